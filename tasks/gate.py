"""Prefect tasks of learning the mixture: labelled pairs, the gate, the combiner."""

from __future__ import annotations

from dataclasses import asdict

from prefect import task

from experts.training.gate_training import labelled_pairs, train_gate
from experts.training.stacking_training import fit_combiner
from tasks.common import data_task_options

_retry = data_task_options()


@task(name="load-labelled-pairs", **_retry)
def load_labelled_pairs(
    source: str | None = None, split: str = "dev", max_pairs: int | None = None, seed: int = 0
) -> list[dict]:
    """Labelled (claim, evidence, label) rows from a file or the training data's split."""
    return labelled_pairs(source, split, max_pairs, seed)


@task(name="train-gate", **_retry)
def train_gate_task(
    rows: list[dict],
    k: int | None = None,
    epochs: int | None = None,
    registry: str | None = None,
    path: str | None = None,
) -> dict:
    """Train the gate over the registry's experts on ``rows``; returns the run's summary."""
    from experts.registry import load_experts

    result = train_gate(
        [(r["claim"], r["evidence"]) for r in rows],
        [r["label"] for r in rows],
        load_experts(registry=registry),
        k=k,
        epochs=epochs,
        path=path,
    )
    summary = asdict(result)
    summary["losses"] = summary["losses"][:: max(1, len(result.losses) // 50)]
    return summary


@task(name="fit-combiner", **_retry)
def fit_combiner_task(
    rows: list[dict], registry: str | None = None, path: str | None = None
) -> dict:
    """Fit the learned combiner over the registry's experts on ``rows``; returns its figures."""
    from experts.registry import load_experts

    return fit_combiner(
        [(r["claim"], r["evidence"]) for r in rows],
        [r["label"] for r in rows],
        load_experts(registry=registry),
        registry=registry,
        datasets=[r.get("dataset", "all") for r in rows],
        path=path,
    )
