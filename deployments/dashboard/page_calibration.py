"""Calibration: reliability diagram and ECE, abstention against selective accuracy, and the
ROC curve, for labelled runs and for evaluations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from sqlalchemy.engine import Connection

from deployments.dashboard import state
from experts.decision.calibration import ECE_BINS
from quality.gates import calibration_error, labelled_probs
from storage import dashboard_stats as S
from verdictflow.config import get_settings


def render() -> None:
    """Draw the calibration page."""
    st.title("Calibration")
    with state.connection() as conn:
        labelled = S.labelled_runs(conn)
        evaluations = S.evaluations(conn)
    if not labelled and not evaluations:
        st.info(
            "No labelled run yet: the calibration figures need items with a gold `label` in "
            "their metadata. `verdictflow evaluate -d demo` verifies the labelled demo set.",
            icon=":material/info:",
        )
        return
    source = st.radio(
        "Figures of",
        ["a labelled run", "an evaluation"],
        horizontal=True,
        key="cal-source",
        index=0 if labelled else 1,
    )
    if source == "an evaluation":
        run_ids = evaluation(evaluations)
    else:
        run_ids = [state.pick_run(labelled, "cal-pick", "Labelled run")] if labelled else []
    run_ids = [r for r in run_ids if r]
    if run_ids:
        figures(run_ids)


def evaluation(evaluations: list[dict[str, Any]]) -> list[str]:
    """The stored figures of an evaluation; returns the verify runs of the data sets chosen."""
    if not evaluations:
        st.caption("No evaluation run is stored (`verdictflow evaluate`).")
        return []
    by_id = {e["run_id"]: e for e in evaluations}
    chosen = st.selectbox(
        "Evaluation",
        list(by_id),
        format_func=lambda i: f"{i} · {state.when(by_id[i]['started_at'])}",
        key="cal-eval",
    )
    report = by_id[chosen]["counts"] or {}
    sets = report.get("datasets") or {}
    rows = [
        {
            "data set": name,
            "n": m.get("n"),
            "ECE": m.get("ece"),
            "AUROC": m.get("auroc"),
            "abstention": m.get("abstention_rate"),
            "selective accuracy": m.get("selective_accuracy"),
            "balanced accuracy": m.get("balanced_accuracy"),
            "verify run": m.get("verify_run_id"),
        }
        for name, m in {**sets, "overall": report.get("overall") or {}}.items()
    ]
    st.caption("As stored by the evaluation (ECE: top-label, 15 equal-mass bins):")
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="cal-eval-table")
    if len(evaluations) > 1:
        ordered = sorted(evaluations, key=lambda e: e["started_at"])
        fig = go.Figure(
            go.Scatter(
                x=[e["started_at"] for e in ordered],
                y=[((e["counts"] or {}).get("overall") or {}).get("ece") for e in ordered],
                mode="lines+markers",
            )
        )
        fig.update_layout(title="Overall ECE per evaluation", height=280)
        st.plotly_chart(fig, key="cal-eval-ece")
    names = [n for n, m in sets.items() if m.get("verify_run_id")]
    picked = st.multiselect("Data sets drawn below", names, default=names, key="cal-eval-sets")
    return [sets[n]["verify_run_id"] for n in picked]


def labelled_calibration(
    conn: Connection, run_ids: list[str]
) -> tuple[float | None, list[dict[str, float]]]:
    """The ECE of these runs' labelled items and its reliability bins (mean confidence,
    accuracy, items), computed as the batch quality gate computes it (one definition: a
    run's figure here is the one its gate checked). None and no bins without labels."""
    parts = [
        labelled_probs(verdicts, labels) for verdicts, labels in S.labelled_verdicts(conn, run_ids)
    ]
    probs = np.concatenate([p for p, _ in parts]) if parts else np.zeros((0, 3))
    gold = np.concatenate([g for _, g in parts]) if parts else np.zeros(0, dtype=np.int64)
    if not len(gold):
        return None, []
    ece, bins = calibration_error(probs, gold)
    points = [
        {"bin": i, "confidence": conf, "accuracy": acc, "n": n}
        for i, (conf, acc, n) in enumerate(bins)
    ]
    return ece, points


def figures(run_ids: list[str]) -> None:
    """Reliability, selective accuracy and ROC of these runs' labelled items."""
    threshold = get_settings().verify.support_threshold
    buckets = state.read(S.calibration_buckets, run_ids)
    ece, points = state.read(labelled_calibration, run_ids)
    fpr, tpr, auc = S.roc_curve(buckets)
    curve = S.selective_curve(buckets, threshold)
    op = S.operating_point(buckets)
    cols = st.columns(4)
    cols[0].metric("Labelled items", f"{op['items'] or 0:,}")
    cols[1].metric(
        "ECE",
        state.num(ece),
        help="As the batch quality gate computes it: each labelled item's deciding claim, its "
        f"top label's probability against the gold label, {ECE_BINS} equal-mass bins.",
    )
    cols[2].metric(
        "AUROC", state.num(auc), help="p_supported, supported vs not, at 0.01 thresholds."
    )
    cols[3].metric(
        "Abstained",
        state.pct(op["abstention_rate"]),
        help="verdict uncertain; selective accuracy on the rest "
        f"{state.pct(op['selective_accuracy'])}",
    )
    left, mid, right = st.columns(3)
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "grey"}, name="perfect"
    )
    fig.add_scatter(
        x=[p["confidence"] for p in points],
        y=[p["accuracy"] for p in points],
        mode="lines+markers",
        marker={"size": [6 + 14 * (p["n"] / max(q["n"] for q in points)) for p in points]},
        text=[f"{p['n']} items" for p in points],
        name="items",
    )
    fig.update_layout(
        title=f"Reliability (ECE {state.num(ece)})",
        xaxis_title="mean confidence (top label)",
        yaxis_title="accuracy (gold)",
        height=380,
        xaxis={"range": [0, 1]},
        yaxis={"range": [0, 1]},
    )
    left.plotly_chart(fig, key="cal-reliability")
    fig = go.Figure()
    fig.add_scatter(
        x=[p["abstention_rate"] for p in curve],
        y=[p["selective_accuracy"] for p in curve],
        mode="lines+markers",
        text=[f"confidence ≥ {p['min_confidence']:.2f}" for p in curve],
        name="leave out the least confident",
    )
    if op["selective_accuracy"] is not None:
        fig.add_scatter(
            x=[op["abstention_rate"]],
            y=[op["selective_accuracy"]],
            mode="markers",
            marker={"size": 14, "symbol": "star", "color": "#c62828"},
            name="this run (uncertain)",
        )
    fig.update_layout(
        title="Abstention vs selective accuracy",
        xaxis_title="abstention rate",
        yaxis_title="selective accuracy",
        height=380,
        legend={"orientation": "h", "y": 1.12},
    )
    mid.plotly_chart(fig, key="cal-selective")
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "grey"}, name="chance"
    )
    fig.add_scatter(x=fpr, y=tpr, mode="lines", name=f"AUROC {state.num(auc)}")
    fig.update_layout(
        title=f"ROC (AUROC {state.num(auc)})",
        xaxis_title="false positive rate",
        yaxis_title="true positive rate (supported)",
        height=380,
        legend={"orientation": "h", "y": 1.12},
    )
    right.plotly_chart(fig, key="cal-roc")
    table = [
        {
            "bin": p["bin"],
            "items": p["n"],
            "mean confidence": round(p["confidence"], 3),
            "accuracy": round(p["accuracy"], 3),
        }
        for p in points
    ]
    with st.expander("Reliability bins"):
        st.dataframe(pd.DataFrame(table), hide_index=True, key="cal-bins")
