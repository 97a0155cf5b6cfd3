"""The calibrate flow: labelled rows -> evidence -> scoring stage -> calibrators + report.

Each labelled row is one claim with its context as evidence. The combined score (and each
expert's raw probabilities) is calibrated on the calibration split, the conformal predictor is
fitted for abstention, and both are evaluated on the held-out split and saved under
``settings.calibration_dir``, where the verify flow loads them.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.runtime import task_runner
from tasks.calibration import evidence_task, fit_calibration_task, load_labelled_task
from tasks.scoring import score_claims
from verdictflow.config import get_settings


@flow(name="calibrate", task_runner=task_runner(), log_prints=True)
def calibrate(
    dataset: str,
    method: str | None = None,
    alpha: float | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Fit calibration and conformal abstention on a labelled JSONL path or data set name.

    Args:
        dataset: A JSONL of ``{"id", "text", "context"?, "label"}`` or a name from
            ``experts.training.data`` (vitaminc, halueval_qa, halueval_dialogue,
            halueval_summarization).
        method: "temperature", "isotonic" or "auto" (lower cross-validated NLL); None:
            ``quality.calibration_method``.
        alpha: Target error of the conformal sets; None: ``verify.alpha``.
        limit: Rows per split; None: ``quality.calibration_max_rows``.

    Returns:
        The report: ECE/Brier/NLL before and after, coverage, abstention, paths.
    """
    settings = get_settings()
    method = method or settings.quality.calibration_method
    alpha = settings.verify.alpha if alpha is None else alpha
    cal_claims, cal_labels, eval_claims, eval_labels, description = load_labelled_task(
        dataset, limit
    )
    cal_scores, _ = score_claims(cal_claims, evidence_task(cal_claims))
    eval_scores, _ = (
        score_claims(eval_claims, evidence_task(eval_claims)) if eval_claims else ([], {})
    )
    report = fit_calibration_task(
        cal_claims,
        cal_scores,
        cal_labels,
        eval_claims,
        eval_scores,
        eval_labels,
        method,
        alpha,
        description,
    )
    print(_summary(report))
    return report


def run_calibrate(
    dataset: str, method: str | None = None, alpha: float | None = None, limit: int | None = None
) -> dict[str, Any]:
    """Run the calibrate flow with a task runner built from the settings in force now."""
    return calibrate.with_options(task_runner=task_runner())(dataset, method, alpha, limit)


def _summary(report: dict[str, Any]) -> str:
    held = report.get("held_out") or report["calibration"]
    before, after = held["before"], held["after"]
    line = (
        f"calibration {report['version']}: ECE {before['ece']:.4f} -> {after['ece']:.4f}, "
        f"Brier {before['brier']:.4f} -> {after['brier']:.4f}, "
        f"NLL {before['nll']:.4f} -> {after['nll']:.4f}"
    )
    conformal = held.get("conformal")
    if conformal:
        line += (
            f"; alpha {report['alpha']}: coverage {conformal['coverage']:.3f}, "
            f"abstention {conformal['abstention_rate']:.3f}"
        )
    return line
