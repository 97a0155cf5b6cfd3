"""Experts: how the gate spreads claims over them, by run and by domain, how often each
agrees with the final verdict, and their model cards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from deployments.dashboard import state
from storage import dashboard as D
from storage import dashboard_stats as S
from verdictflow.config import get_settings

MAX_RUNS = 200
BALANCE_HELP = (
    "Entropy of the gate's weight shares over the registered experts, divided by its "
    "maximum: 1 is an even spread, 0 one expert taking every claim."
)


@st.cache_data(ttl=300, show_spinner=False)
def registry() -> list[dict[str, Any]]:
    """The registered experts with their model cards (Markdown, where one ships)."""
    from experts.registry import load_registry

    out = []
    for spec in load_registry():
        card = None
        if spec.weights is not None and (Path(spec.weights) / "model_card.md").exists():
            card = (Path(spec.weights) / "model_card.md").read_text(encoding="utf-8")
        out.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "domains": ", ".join(spec.domains),
                "prior": spec.prior,
                "weights": str(spec.weights or ""),
                "card": card,
            }
        )
    return out


def render() -> None:
    """Draw the experts page."""
    st.title("Experts")
    since, until = state.date_range("ex")
    usage = state.read(S.expert_usage, D.RunFilter(since=since, until=until), MAX_RUNS)
    experts = registry()
    n_experts = max(len(experts), len({u["expert"] for u in usage}))
    if not usage:
        st.info("No claim verdict with routed experts in this time range.", icon=":material/info:")
    else:
        utilisation(usage, n_experts)
    st.subheader("One run: routing by domain and agreement with the verdict")
    run_id = state.pick_run(state.read(D.recent_runs, 200, ("verify",)), "ex-pick")
    if run_id:
        per_run(run_id)
    st.subheader("Model cards")
    st.dataframe(pd.DataFrame(experts).drop(columns=["card"]), hide_index=True)
    for e in experts:
        if e["card"]:
            with st.expander(f"{e['name']} ({e['weights']})"):
                st.markdown(e["card"])


def utilisation(usage: list[dict[str, Any]], n_experts: int) -> None:
    """Each expert's share of the gate's routings, and the balance score of each run."""
    shares = S.utilisation(usage)
    overall = shares.pop("overall")
    runs = {u["run_id"]: (u["started_at"], u["run_claims"]) for u in usage}
    rows = [
        {
            "expert": name,
            "utilisation %": round(100 * share, 1),
            "runs routed to it": sum(1 for s in shares.values() if s.get(name)),
        }
        for name, share in sorted(overall.items(), key=lambda kv: -kv[1])
    ]
    cols = st.columns(3)
    cols[0].metric("Runs", f"{len(runs):,}")
    cols[1].metric("Claims", f"{sum(c for _, c in runs.values()):,}")
    cols[2].metric(
        "Balance score", state.num(S.balance_score(overall, n_experts), 2), help=BALANCE_HELP
    )
    left, right = st.columns(2)
    fig = go.Figure(go.Bar(x=[r["expert"] for r in rows], y=[r["utilisation %"] for r in rows]))
    fig.update_layout(
        title="Utilisation: share of the gate's routings", yaxis_title="%", height=340
    )
    left.plotly_chart(fig, key="ex-util")
    ordered = sorted(shares, key=lambda r: runs[r][0])
    fig = go.Figure(
        go.Scatter(
            x=[runs[r][0] for r in ordered],
            y=[S.balance_score(shares[r], n_experts) for r in ordered],
            text=ordered,
            mode="lines+markers",
        )
    )
    fig.update_layout(title="Balance score per run", yaxis={"range": [0, 1.05]}, height=340)
    right.plotly_chart(fig, key="ex-balance")
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="ex-util-table")
    st.caption(
        "Per run: pairs scored per expert as the pipeline recorded them (timings.routing), "
        "else the claims routed to it; overall: the runs' shares weighted by their claims."
    )


def _per_run_reads(run_id: str) -> tuple[list[dict], list[dict]]:
    chars = get_settings().experts.long_source_chars
    with state.connection() as conn:
        return S.routing_by_domain(conn, run_id, chars), S.expert_agreement(conn, run_id)


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _finished_run_reads(run_id: str, finished_at: str) -> tuple[list[dict], list[dict]]:
    """A finished run's figures do not change (a resumed run finishes again: a new key)."""
    return _per_run_reads(run_id)


def per_run(run_id: str) -> None:
    """Routing by domain and per-expert agreement of one run."""
    run = state.read(D.get_run, run_id)
    if run and run["finished_at"] is not None:
        domains, agreement = _finished_run_reads(run_id, run["finished_at"].isoformat())
    else:
        domains, agreement = _per_run_reads(run_id)
    left, right = st.columns(2)
    if domains:
        fig = go.Figure()
        for name in sorted({d["expert"] for d in domains}):
            part = [d for d in domains if d["expert"] == name]
            fig.add_bar(x=[d["domain"] for d in part], y=[d["claims"] for d in part], name=name)
        fig.update_layout(
            barmode="stack",
            title="Claims routed, by item domain",
            height=340,
            legend={"orientation": "h", "y": 1.12},
        )
        left.plotly_chart(fig, key="ex-domains")
    else:
        left.caption("No routed claims in this run.")
    if agreement:
        fig = go.Figure(
            go.Bar(
                x=[a["expert"] for a in agreement],
                y=[100 * (a["agreement"] or 0) for a in agreement],
                text=[f"{100 * (a['agreement'] or 0):.1f} % of {a['claims']}" for a in agreement],
            )
        )
        fig.update_layout(
            title="Agreement with the final verdict (deciding chunk)",
            yaxis={"range": [0, 105], "title": "%"},
            height=340,
        )
        right.plotly_chart(fig, key="ex-agree")
        table = [
            {
                "expert": a["expert"],
                "claims": a["claims"],
                "agree": a["agree"],
                "agreement %": round(100 * a["agreement"], 1)
                if a["agreement"] is not None
                else None,
            }
            for a in agreement
        ]
        right.dataframe(pd.DataFrame(table), hide_index=True, key="ex-agree-table")
    else:
        right.caption("No expert scores of decided claims in this run.")
