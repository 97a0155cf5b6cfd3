"""Flow: train the verifier experts (generalist first, specialists warm-started from it)."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from experts.training.loop import EXPERT_SPECS
from tasks.train import fetch_training_data, train_expert_task


def expert_order(names: list[str] | None) -> list[str]:
    """The experts to train, generalist first; unknown names are refused."""
    names = list(names or EXPERT_SPECS)
    unknown = sorted(set(names) - set(EXPERT_SPECS))
    if unknown:
        raise ValueError(f"unknown expert(s) {unknown}; expected some of {sorted(EXPERT_SPECS)}")
    return [name for name in EXPERT_SPECS if name in names]


def summary_markdown(results: list[dict]) -> str:
    """One table row per expert and test data set."""
    lines = [
        "# Trained experts",
        "",
        "| expert | data set | metrics | CPU pairs/s |",
        "|---|---|---|---|",
    ]
    for r in results:
        for ds, m in r["test"].items():
            shown = ", ".join(f"{k} {v}" for k, v in m.items())
            lines.append(f"| {r['name']} | {ds} | {shown} | {r['cpu_pairs_per_s']} |")
    return "\n".join(lines)


@flow(name="train-experts")
def train_experts(
    experts: list[str] | None = None,
    quick: bool = False,
    output_dir: str | None = None,
    data_dir: str | None = None,
) -> list[dict]:
    """Fetch and split the data, then train, measure and save each expert."""
    names = expert_order(experts)
    datasets = sorted({ds for name in names for ds in EXPERT_SPECS[name].datasets})
    fetch_training_data(datasets, data_dir)
    results = [train_expert_task(name, quick, output_dir, data_dir) for name in names]
    create_markdown_artifact(summary_markdown(results), key="train-experts")
    return results
