"""Thin Prefect tasks of the calibrate flow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from prefect import task
from prefect.artifacts import create_markdown_artifact

from experts.decision.calibration_data import load_labelled, rows_to_claims
from experts.decision.calibration_fit import (
    fit_and_evaluate,
    report_markdown,
    save_calibration,
    score_arrays,
)
from tasks.common import data_task_options
from verdictflow.contracts import Claim, ClaimScore, Evidence

_OPTIONS = data_task_options()


@task(name="load-labelled", **_OPTIONS)
def load_labelled_task(
    dataset: str, limit: int | None = None
) -> tuple[list[Claim], list[int], list[Claim], list[int], dict[str, Any]]:
    """Calibration and held-out claims with gold labels, and the data description."""
    cal_rows, eval_rows, description = load_labelled(dataset, limit=limit)
    cal_claims, cal_labels = rows_to_claims(cal_rows)
    eval_claims, eval_labels = rows_to_claims(eval_rows)
    return cal_claims, cal_labels.tolist(), eval_claims, eval_labels.tolist(), description


@task(name="calibration-evidence", **_OPTIONS)
def evidence_task(claims: list[Claim]) -> dict[str, list[Evidence]]:
    """Each claim's evidence: its own context (retrieval stage)."""
    from retrieval.evidence import gather_evidence

    return gather_evidence(claims)


@task(name="fit-calibration", **_OPTIONS)
def fit_calibration_task(
    cal_claims: list[Claim],
    cal_scores: list[ClaimScore],
    cal_labels: list[int],
    eval_claims: list[Claim],
    eval_scores: list[ClaimScore],
    eval_labels: list[int],
    method: str,
    alpha: float,
    description: dict[str, Any],
) -> dict[str, Any]:
    """Fit, evaluate and save the calibrators; publish the report and diagram artifact."""
    cal_labels, eval_labels = np.asarray(cal_labels, int), np.asarray(eval_labels, int)
    cal_probs, cal_experts = score_arrays(cal_scores, cal_claims)
    eval_probs, eval_experts = score_arrays(eval_scores, eval_claims)
    calibrator, conformal, experts, report = fit_and_evaluate(
        cal_probs,
        cal_labels,
        eval_probs,
        eval_labels,
        method,
        alpha,
        description,
        cal_experts,
        eval_experts,
    )
    if len(eval_labels):
        curves, labels = (
            {"raw": eval_probs, "calibrated": calibrator.transform(eval_probs)},
            eval_labels,
        )
    else:
        curves, labels = (
            {"raw": cal_probs, "calibrated": calibrator.transform(cal_probs)},
            cal_labels,
        )
    scores = {
        "cal_probs": cal_probs,
        "cal_labels": cal_labels,
        "eval_probs": eval_probs,
        "eval_labels": eval_labels,
    }
    paths = save_calibration(calibrator, conformal, experts, report, (curves, labels), scores)
    report["paths"] = paths
    create_markdown_artifact(
        markdown=report_markdown(report, Path(paths["diagram"])),
        key="calibration-report",
        description=f"Calibration {calibrator.version}",
    )
    return report
