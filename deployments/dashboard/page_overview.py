"""Overview: verify runs over time per dataset/deployment, their verdicts, gates and speed."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from deployments.dashboard import nav, state
from storage import dashboard as D

GATE_MARKS = {"failed": "❌ failed", "passed": "✅ passed"}
MAX_RUNS = 500  # runs drawn (the newest in the filter); the totals count every run


def filters() -> D.RunFilter:
    """The dataset, time-range and verdict filters of the page."""
    options = state.read(D.datasets)
    cols = st.columns([2, 2, 3])
    with cols[0]:
        chosen = st.multiselect("Dataset / deployment", options, key="ov-datasets", wrap=True)
    with cols[1]:
        since, until = state.date_range("ov")
    with cols[2]:
        # wrap: in a column the chips would otherwise stay on one line and hide the last ones.
        verdicts = st.multiselect(
            "Verdict", list(D.VERDICTS), default=list(D.VERDICTS), key="ov-verdicts", wrap=True
        )
    return D.RunFilter(
        datasets=tuple(chosen), since=since, until=until, verdicts=tuple(verdicts or D.VERDICTS)
    )


def render() -> None:
    """Draw the overview page."""
    st.title("Overview")
    f = filters()
    with state.connection() as conn:
        n_runs = D.count_runs(conn, f)
        totals = D.verdict_totals(conn, f)
        runs = D.run_overview(conn, f, MAX_RUNS)
    if not runs:
        st.warning("No verify run matches these filters.", icon=":material/filter_alt_off:")
        return
    shown = list(f.verdicts)
    items = sum(totals.values())
    failed = [r for r in runs if r["batch_gate"] == "failed"]
    cols = st.columns(3 + len(shown))
    cols[0].metric("Runs", f"{n_runs:,}")
    cols[1].metric("Items", f"{items:,}")
    cols[2].metric("Batch gates failed", f"{len(failed):,}")
    for col, label in zip(cols[3:], shown, strict=True):
        col.metric(label.capitalize(), state.pct(totals[label] / items if items else None))
    if n_runs > len(runs):
        st.caption(f"Charts and table: the newest {len(runs):,} of {n_runs:,} runs.")
    if failed:
        names = ", ".join(f"`{r['run_id']}` ({r['dataset']})" for r in failed[-5:])
        st.error(
            f"**Batch quality gate failed** in {len(failed)} run(s): {names}",
            icon=":material/gpp_bad:",
        )
    st.plotly_chart(verdict_figure(runs, shown), key="ov-verdicts-chart")
    st.plotly_chart(speed_figure(runs), key="ov-speed-chart")
    st.subheader("Runs")
    frame = runs_frame(runs, shown)
    picked = st.dataframe(
        frame,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="ov-runs",
        column_config={
            "started": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm"),
            **{f"{v} %": st.column_config.NumberColumn(format="%.1f") for v in D.VERDICTS},
            "total s": st.column_config.NumberColumn(format="%.2f"),
            "claims/s": st.column_config.NumberColumn(format="%.1f"),
        },
    )
    st.caption("Select a run to open it.")
    rows = picked.selection.rows if picked is not None else []
    if rows:
        nav.go("run", run=str(frame.iloc[rows[0]]["run"]))


def runs_frame(runs: list[dict[str, Any]], shown: list[str]) -> pd.DataFrame:
    """One row per run, newest first: the figures of the runs table."""
    rows = []
    for r in reversed(runs):
        row = {
            "started": r["started_at"],
            "dataset": r["dataset"],
            "run": r["run_id"],
            "status": r["status"],
            "items": r["items"],
        }
        row.update({f"{v} %": _pct100(r[f"share_{v}"]) for v in shown})
        row.update(
            {
                "claims": r["claims"],
                "checks failed": f"{r['failed_checks']}/{r['checks']}",
                "batch gate": GATE_MARKS.get(r["batch_gate"], "-"),
                "total s": r["total_s"],
                "claims/s": r["claims_per_s"],
                "reprocess of": r["parent_run_id"] or "",
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _pct100(share: float | None) -> float | None:
    return None if share is None else round(100 * share, 1)


def verdict_figure(runs: list[dict[str, Any]], shown: list[str]) -> go.Figure:
    """Items per verdict of each run (stacked), failed batch gates marked."""
    x = [f"{state.when(r['started_at'])} · {r['run_id'][:12]}" for r in runs]
    fig = go.Figure()
    for label in shown:
        fig.add_bar(
            x=x,
            y=[r[label] for r in runs],
            name=label,
            marker_color=state.COLOURS[label],
            customdata=[[r["dataset"], state.pct(r[f"share_{label}"])] for r in runs],
            hovertemplate="%{x}<br>%{customdata[0]}<br>" + label + ": %{y} (%{customdata[1]})",
        )
    bad = [i for i, r in enumerate(runs) if r["batch_gate"] == "failed"]
    if bad:
        top = [sum(runs[i][v] for v in shown) for i in bad]
        fig.add_scatter(
            x=[x[i] for i in bad],
            y=[t * 1.04 + 0.5 for t in top],
            mode="markers",
            marker={"symbol": "x", "size": 14, "color": "#c62828"},
            name="batch gate failed",
        )
    fig.update_layout(
        barmode="stack",
        title="Items per verdict, per run",
        height=360,
        xaxis={"type": "category", "title": None},
        yaxis_title="items",
        legend={"orientation": "h", "y": 1.12},
    )
    return fig


def speed_figure(runs: list[dict[str, Any]]) -> go.Figure:
    """Each run's wall time and claims per second (two y axes)."""
    x = [r["started_at"] for r in runs]
    fig = go.Figure()
    fig.add_scatter(x=x, y=[r["total_s"] for r in runs], name="run time (s)", mode="lines+markers")
    fig.add_scatter(
        x=x, y=[r["claims_per_s"] for r in runs], name="claims/s", mode="lines+markers", yaxis="y2"
    )
    fig.update_layout(
        title="Latency and throughput",
        height=300,
        legend={"orientation": "h", "y": 1.12},
        yaxis={"title": "seconds"},
        yaxis2={"title": "claims/s", "overlaying": "y", "side": "right"},
    )
    return fig
