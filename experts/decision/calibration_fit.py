"""The library behind the calibrate flow: scored labelled claims in, calibrators and a report out.

Labelled rows come from ``experts.decision.calibration_data``. The combined
score (and each expert's raw probabilities, where given) is calibrated on the calibration split;
the conformal predictor is fitted on the calibrated combined score; everything is evaluated on
the held-out split and saved under ``settings.calibration_dir``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from experts.decision.calibration import (
    Calibrator,
    calibration_metrics,
    calibrator_path,
    fit_calibrator,
    reliability_diagram,
)
from experts.decision.conformal import ConformalPredictor, conformal_path, coverage_report
from verdictflow.config import get_settings
from verdictflow.contracts import Claim, ClaimScore

REPORT_ALPHAS = (0.4, 0.3, 0.2, 0.1, 0.05)  # the trade-off a user picks alpha from


def score_arrays(
    scores: Sequence[ClaimScore], claims: Sequence[Claim]
) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Combined probabilities [n, 3] in claim order, and per expert (row indices, probs) on
    each claim's best chunk, for the claims that expert scored."""
    by_id = {s.claim_id: s for s in scores}
    missing = [c.claim_id for c in claims if c.claim_id not in by_id]
    if missing:
        raise ValueError(f"no score for claims {missing[:5]} ({len(missing)} in all)")
    combined = np.array([by_id[c.claim_id].probs for c in claims], dtype=np.float64)
    per_expert: dict[str, tuple[list[int], list[tuple[float, float, float]]]] = {}
    for row, claim in enumerate(claims):
        score = by_id[claim.claim_id]
        for expert, chunks in score.expert_probs.items():
            probs = chunks.get(score.best_chunk_id) if score.best_chunk_id else None
            if probs is not None and np.all(np.isfinite(probs)):
                rows, values = per_expert.setdefault(expert, ([], []))
                rows.append(row)
                values.append(tuple(probs))
    return combined, {
        name: (np.array(rows, dtype=np.int64), np.array(values, dtype=np.float64))
        for name, (rows, values) in per_expert.items()
    }


def conformal_figures(
    cal_probs: np.ndarray,
    cal_labels: np.ndarray,
    eval_probs: np.ndarray,
    eval_labels: np.ndarray,
    alphas: Sequence[float] = REPORT_ALPHAS,
) -> dict[str, dict[str, float]]:
    """Coverage, abstention rate, set size and selective accuracy on held-out data per alpha."""
    out = {}
    for alpha in alphas:
        cp = ConformalPredictor().fit(cal_probs, cal_labels, alpha)
        report = coverage_report(cp.prediction_sets(eval_probs), eval_labels, eval_probs)
        out[f"{alpha:g}"] = {**report, "qhat": float(cp.qhat), "target": 1.0 - alpha}
    return out


def fit_and_evaluate(
    cal_probs: np.ndarray,
    cal_labels: np.ndarray,
    eval_probs: np.ndarray,
    eval_labels: np.ndarray,
    method: str,
    alpha: float,
    description: dict[str, Any],
    cal_experts: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    eval_experts: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[Calibrator, ConformalPredictor, dict[str, Calibrator], dict[str, Any]]:
    """Fit the combined calibrator, per-expert calibrators and the conformal predictor.

    Returns the fitted objects and a report: metrics before/after on both splits, conformal
    figures at ``alpha`` and ``REPORT_ALPHAS`` on the held-out split, per-expert metrics.
    """
    min_rows = get_settings().quality.calibration_min_rows
    if len(cal_labels) < min_rows:
        raise ValueError(
            f"only {len(cal_labels)} labelled calibration rows; need {min_rows} "
            "(quality.calibration_min_rows)"
        )
    calibrator = fit_calibrator(
        cal_probs, cal_labels, method, {**description, "scorer": "combined"}
    )
    cal_after = calibrator.transform(cal_probs)
    conformal = ConformalPredictor().fit(cal_after, cal_labels, alpha, description)
    report: dict[str, Any] = {
        "dataset": description,
        "method": calibrator.method,
        "requested_method": method,
        "alpha": alpha,
        "version": calibrator.version,
        "conformal_version": conformal.version,
        "calibration": {
            "before": calibration_metrics(cal_probs, cal_labels),
            "after": calibration_metrics(cal_after, cal_labels),
        },
    }
    if len(eval_labels):
        eval_after = calibrator.transform(eval_probs)
        sets = conformal.prediction_sets(eval_after)
        report["held_out"] = {
            "before": calibration_metrics(eval_probs, eval_labels),
            "after": calibration_metrics(eval_after, eval_labels),
            "conformal": coverage_report(sets, eval_labels, eval_after),
        }
        alphas = sorted({alpha, *REPORT_ALPHAS}, reverse=True)
        report["held_out"]["by_alpha"] = conformal_figures(
            cal_after, cal_labels, eval_after, eval_labels, alphas
        )
    experts: dict[str, Calibrator] = {}
    report["experts"] = {}
    for name, (rows, probs) in (cal_experts or {}).items():
        if len(rows) < min_rows:
            report["experts"][name] = {"skipped": f"only {len(rows)} rows"}
            continue
        fitted = fit_calibrator(probs, cal_labels[rows], method, {**description, "scorer": name})
        experts[name] = fitted
        entry: dict[str, Any] = {"version": fitted.version, "rows": len(rows)}
        held = (eval_experts or {}).get(name)
        if held is not None and len(held[0]):
            entry["held_out_before"] = calibration_metrics(held[1], eval_labels[held[0]])
            entry["held_out_after"] = calibration_metrics(
                fitted.transform(held[1]), eval_labels[held[0]]
            )
        report["experts"][name] = entry
    return calibrator, conformal, experts, report


def save_calibration(
    calibrator: Calibrator,
    conformal: ConformalPredictor,
    experts: Mapping[str, Calibrator],
    report: dict[str, Any],
    diagram: tuple[dict[str, np.ndarray], np.ndarray] | None = None,
    scores: Mapping[str, np.ndarray] | None = None,
) -> dict[str, str]:
    """Write calibrators, the conformal predictor, the report and the reliability diagram.

    The combined calibrator is ``combined.json`` (what verify loads) and also
    ``versions/<version>.json``; per-expert calibrators are ``<expert>.json``; ``scores``
    (raw probabilities and labels of both splits) go to ``scores.npz`` for later re-fitting.
    Re-running on the same data rewrites the same files.
    """
    folder = get_settings().calibration_dir
    paths = {"combined": calibrator_path("combined"), "conformal": conformal_path()}
    calibrator.save(paths["combined"])
    calibrator.save(folder / "versions" / f"{calibrator.version}.json")
    conformal.save(paths["conformal"])
    for name, fitted in experts.items():
        paths[name] = calibrator_path(name)
        fitted.save(paths[name])
    if diagram is not None:
        curves, labels = diagram
        paths["diagram"] = reliability_diagram(
            curves,
            labels,
            folder / "combined.png",
            title=f"{report['dataset'].get('dataset', '')} ({report['method']})",
        )
    if scores is not None:
        paths["scores"] = folder / "scores.npz"
        np.savez_compressed(paths["scores"], **{k: np.asarray(v) for k, v in scores.items()})
    paths["report"] = folder / "report.json"
    paths["report"].write_text(json.dumps(report, indent=2, sort_keys=True, default=float))
    return {k: str(v) for k, v in paths.items()}


def report_markdown(report: dict[str, Any], diagram_png: Path | None = None) -> str:
    """The calibration report as Markdown (metrics table, conformal figures, the diagram)."""
    lines = [
        f"# Calibration `{report['version']}`",
        "",
        f"Data: `{json.dumps(report['dataset'], default=str)}`",
        "",
        "| split | stage | ECE | Brier | NLL | accuracy | n |",
        "|---|---|---|---|---|---|---|",
    ]
    for split in ("calibration", "held_out"):
        for stage in ("before", "after"):
            m = report.get(split, {}).get(stage)
            if m:
                lines.append(
                    f"| {split} | {stage} | {m['ece']:.4f} | {m['brier']:.4f} | {m['nll']:.4f} "
                    f"| {m['accuracy']:.3f} | {int(m['n'])} |"
                )
    by_alpha = report.get("held_out", {}).get("by_alpha", {})
    if by_alpha:
        lines += [
            "",
            "| alpha | target | coverage | abstention | mean set size | selective acc. |",
            "|---|---|---|---|---|---|",
        ]
        for alpha, f in by_alpha.items():
            lines.append(
                f"| {alpha} | {f['target']:.2f} | {f['coverage']:.3f} | {f['abstention_rate']:.3f}"
                f" | {f['mean_set_size']:.2f} | {f['selective_accuracy']:.3f} |"
            )
    if report.get("experts"):
        lines += ["", "Per expert: `" + json.dumps(report["experts"], default=float) + "`"]
    if diagram_png is not None and Path(diagram_png).exists():
        import base64

        data = base64.b64encode(Path(diagram_png).read_bytes()).decode()
        lines += [
            "",
            f"![reliability diagram](data:image/png;base64,{data})",
            "",
            f"Saved at `{diagram_png}`",
        ]
    return "\n".join(lines)
