"""Thin Prefect tasks of the evaluate flow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from experts.evaluation import labelled as ev
from experts.evaluation.metrics import in_task_space, reliability_png, roc_curve_png
from experts.training.data import DataUnavailable
from storage.repository import current_repository
from tasks.common import data_task_options
from verdictflow.config import get_settings
from verdictflow.contracts import InputError, ItemVerdict

_OPTIONS = data_task_options()


__all__ = ["DataUnavailable"]  # the evaluate flow skips a data set whose data is gone


@task(name="load-eval-data", **_OPTIONS)
def load_eval_task(
    dataset: str, limit: int | None
) -> tuple[list[dict], list[InputError], dict[str, Any]]:
    """Labelled rows of one data set, the lines refused, and its description.

    Raises:
        DataUnavailable: the package index no longer has the data set's package.
    """
    return ev.load_eval_rows(dataset, limit)


@task(name="open-evaluation", **_OPTIONS)
def open_evaluation_task(run_id: str, parameters: dict[str, Any], code_version: str) -> None:
    """Record the evaluation as a run of kind "evaluate" (resumed if it exists)."""
    current_repository().start_run(run_id, "evaluate", parameters, code_version)


@task(name="score-dataset", **_OPTIONS)
def score_dataset_task(
    rows: list[dict],
    verdicts: list[ItemVerdict],
    description: dict[str, Any],
    errors: list[InputError],
) -> dict[str, Any]:
    """One data set's figures and its item arrays (gold, deciding probabilities, abstained).

    ``refused`` counts the lines refused when loading plus the rows verify gave no verdict;
    the first 20 errors (loading and verify) are kept with the report."""
    ids, gold, probs, abstained = ev.item_arrays(rows, verdicts)
    metrics = ev.score(gold, probs, abstained)
    return {
        "metrics": {
            **metrics,
            "rows": len(rows),
            "refused": description.get("refused", 0) + len(rows) - len(ids),
            "description": description,
        },
        "errors": [e.model_dump() for e in errors[:20]],
        "gold": gold.tolist(),
        "probs": probs.tolist(),
        "abstained": abstained.tolist(),
    }


@task(name="build-report", **_OPTIONS)
def build_report_task(
    run_id: str, parts: dict[str, dict[str, Any]], code_version: str, verify_runs: dict[str, str]
) -> dict[str, Any]:
    """The report: figures per data set and pooled, with what produced them."""
    arrays = {
        name: (
            np.asarray(p["gold"], dtype=np.int64),
            np.asarray(p["probs"], dtype=np.float64).reshape(-1, 3),
            np.asarray(p["abstained"], dtype=bool),
        )
        for name, p in parts.items()
    }
    verify = get_settings().verify
    return {
        "run_id": run_id,
        "code_version": code_version,
        "models": ev.models_fingerprint(),
        "thresholds": {
            "support": verify.support_threshold,
            "contradiction": verify.contradiction_threshold,
            "alpha": verify.alpha,
        },
        "datasets": {
            name: {**p["metrics"], "verify_run_id": verify_runs.get(name)}
            for name, p in parts.items()
        },
        "overall": ev.overall(arrays),
    }


@task(name="evaluation-artifacts", **_OPTIONS)
def evaluation_artifacts_task(
    report: dict[str, Any], parts: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """Report JSON, reliability diagram and ROC curve under HOME/evaluation/<run>/, and the
    Prefect artifacts (a table and a Markdown report with both plots)."""
    folder = get_settings().home / "evaluation" / report["run_id"]
    folder.mkdir(parents=True, exist_ok=True)
    reliability, roc = {}, {}
    for name, p in parts.items():
        gold = np.asarray(p["gold"], dtype=np.int64)
        probs = np.asarray(p["probs"], dtype=np.float64).reshape(-1, 3)
        if not len(gold):
            continue
        task = report["datasets"][name]["task"]
        task_gold, task_probs = in_task_space(gold, probs, task)
        reliability[name] = (task_probs, task_gold)
        roc[name] = (gold == 0, probs[:, 0])
    paths = {
        "reliability": reliability_png(
            reliability, folder / "reliability.png", "Reliability (deciding claim)"
        ),
        "roc": roc_curve_png(roc, folder / "roc.png"),
        "report": folder / "report.json",
    }
    paths["report"].write_text(json.dumps(report, indent=2, sort_keys=True))
    create_table_artifact(
        key="evaluation-table",
        table=ev.report_rows(report),
        description=f"Evaluation `{report['run_id']}`",
    )
    create_markdown_artifact(
        key="evaluation-report",
        markdown=ev.report_markdown(
            report,
            {"reliability diagram": paths["reliability"], "ROC curve": paths["roc"]},
        ),
        description=f"Evaluation `{report['run_id']}`",
    )
    return {k: str(Path(v)) for k, v in paths.items()}


@task(name="finish-evaluation", **_OPTIONS)
def finish_evaluation_task(
    run_id: str, status: str, report: dict[str, Any], timings: dict[str, float]
) -> None:
    """Store the report as the run's counts and mark it finished."""
    current_repository().finish_run(run_id, status, report, timings)
