"""Flows that learn the mixture from labelled pairs: the gate, and the combiner after it."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from tasks.gate import fit_combiner_task, load_labelled_pairs, train_gate_task
from verdictflow.config import get_settings


def _summary_markdown(result: dict) -> str:
    lines = [
        f"# Gate {result['version']}",
        f"saved at `{result['path']}`",
        "",
        "| | loss |",
        "|---|---|",
        f"| untrained | {result['initial_loss']:.4f} |",
        f"| uniform weights | {result['uniform_loss']:.4f} |",
        f"| trained | {result['final_loss']:.4f} |",
        "",
        f"Balance (1 - CV of utilisation): {result['balance']:.3f}",
        "",
        "| expert | utilisation |",
        "|---|---|",
    ]
    lines += [f"| {name} | {share:.3f} |" for name, share in result["utilisation"].items()]
    return "\n".join(lines)


@flow(name="train-gate")
def train_gate_flow(
    source: str | None = None,
    split: str = "dev",
    max_pairs: int | None = None,
    k: int | None = None,
    epochs: int | None = None,
    registry: str | None = None,
    path: str | None = None,
) -> dict:
    """Load labelled pairs (a file, or the training data's dev split), train the gate over
    the registry's experts, save it with a new version, and publish a summary artifact."""
    max_pairs = max_pairs or get_settings().experts.gate_train_pairs
    rows = load_labelled_pairs(source, split, max_pairs)
    result = train_gate_task(rows, k, epochs, registry, path)
    create_markdown_artifact(_summary_markdown(result), key="gate-training")
    return result


def _combiner_markdown(result: dict) -> str:
    lines = [
        "# Combiner",
        f"saved at `{result['path']}`; {result['pairs']} pairs, {result['held_out']} held out",
        "",
        "| on held-out pairs | mean AUROC over sets | overall AUROC |",
        "|---|---|---|",
    ]
    for name, fig in result["figures"].items():
        lines.append(f"| {name} | {fig['mean']} | {fig['overall']} |")
    return "\n".join(lines)


@flow(name="train-combiner")
def train_combiner_flow(
    source: str | None = None,
    split: str = "dev",
    max_pairs: int | None = None,
    registry: str | None = None,
    path: str | None = None,
) -> dict:
    """Load labelled pairs, fit the learned combiner under the gate's routing, save it, and
    publish its held-out figures against the mixture and each expert."""
    max_pairs = max_pairs or get_settings().experts.gate_train_pairs
    rows = load_labelled_pairs(source, split, max_pairs)
    result = fit_combiner_task(rows, registry, path)
    create_markdown_artifact(_combiner_markdown(result), key="combiner-training")
    return result
