"""A run: its gates, its quarantined records, its items; an item opens to its claims, each
with the deciding evidence shown in its source document."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from deployments.dashboard import evidence as E
from deployments.dashboard import state
from storage import dashboard as D
from storage import dashboard_items as DI

PAGE_SIZE = 50


def render() -> None:
    """Draw the run page (``?run=<run id>&item=<item id>``)."""
    st.title("A run")
    run_id = state.pick_run(state.read(D.recent_runs, 200, ("verify",)), "run-pick")
    if run_id is None:
        return
    with state.connection() as conn:
        run = D.get_run(conn, run_id)
        counts = D.run_verdict_counts(conn, run_id)
        checks = DI.quality_checks(conn, run_id)
        n_errors, errors = DI.input_errors(conn, run_id)
    header(run, counts)
    gates(checks)
    if n_errors:
        st.subheader(f"Quarantined records ({n_errors:,})")
        st.caption("Input records that could not be checked, and the rule each broke.")
        st.dataframe(pd.DataFrame(errors), hide_index=True, key=f"errors-{run_id}")
    items(run_id)


def header(run: dict[str, Any], counts: dict[str, int]) -> None:
    """The run's status, dataset, times and verdict counts."""
    total = sum(counts.values())
    seconds = (run.get("timings") or {}).get("total_s")
    colour = "red" if run["status"] in ("failed", "quality_failed") else "green"
    took = "-" if seconds is None else f"{seconds:.2f} s"
    st.markdown(
        f"Status :{colour}-badge[{run['status']}] · dataset **{run['dataset']}** · "
        f"run time **{took}**"
    )
    cols = st.columns(1 + len(D.VERDICTS))
    cols[0].metric("Items", f"{total:,}")
    for col, label in zip(cols[1:], D.VERDICTS, strict=True):
        n = counts.get(label, 0)
        share = state.pct(n / total if total else None)
        col.metric(label.capitalize(), f"{n:,}", share, delta_color="off", delta_arrow="off")
    st.caption(
        f"started {state.when(run['started_at'])} UTC · kind {run['kind']} · code "
        f"{run['code_version']}"
        + (f" · reprocess of `{run['parent_run_id']}`" if run["parent_run_id"] else "")
    )


def gates(checks: list[dict[str, Any]]) -> None:
    """The Great Expectations outcomes; a failed batch gate stands out."""
    if not checks:
        st.caption("No quality gate ran on this run (gates run on flow runs, not single requests).")
        return
    failed = [c for c in checks if not c["success"]]
    batch = [c for c in failed if c["suite"] == "batch"]
    if batch:
        rules = ", ".join(str(c["details"].get("rule", c["expectation"])) for c in batch)
        st.error(f"**Batch quality gate failed**: {rules}", icon=":material/gpp_bad:")
    label = f"Quality gates: {len(checks) - len(failed)} passed, {len(failed)} failed"
    with st.expander(label, expanded=bool(failed)):
        rows = [
            {
                "suite": c["suite"],
                "rule": c["details"].get("rule", c["expectation"]),
                "column": c["column"],
                "passed": c["success"],
                "unexpected": c["unexpected_count"],
                "observed": str(c["details"].get("observed_value", "")),
            }
            for c in checks
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True)


def items(run_id: str) -> None:
    """The run's items, a page at a time, sorted in SQL; a selected row opens the item."""
    st.subheader("Items")
    cols = st.columns([2, 1, 3, 1])
    sort = cols[0].selectbox("Sort by", list(DI.ITEM_SORTS), key="items-sort")
    descending = cols[1].toggle("Descending", key="items-desc")
    # wrap: in a column the chips would otherwise stay on one line and hide the last ones.
    verdicts = cols[2].multiselect("Verdict", list(D.VERDICTS), key="items-verdicts", wrap=True)
    total = state.read(DI.count_items, run_id, tuple(verdicts))
    pages = max(1, -(-total // PAGE_SIZE))
    page = cols[3].number_input(f"Page (of {pages})", 1, pages, 1, key="items-page") - 1
    rows = state.read(DI.run_items, run_id, sort, descending, page, PAGE_SIZE, tuple(verdicts))
    columns = ["position", "item_id", "verdict", "gold", "p_supported", "n_claims", "text"]
    frame = pd.DataFrame(rows, columns=columns).rename(columns={"gold": "gold label"})
    if frame["gold label"].isna().all():  # no item of this page carries a gold label
        frame = frame.drop(columns="gold label")
    picked = st.dataframe(
        frame,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key=f"items-{run_id}-{sort}-{descending}-{page}-{','.join(verdicts)}",
        column_config={"p_supported": st.column_config.NumberColumn(format="%.3f")},
    )
    st.caption(f"{total:,} items; select one to open its claims and evidence.")
    selected = picked.selection.rows if picked is not None else []
    if selected:
        st.query_params["item"] = str(frame.iloc[selected[0]]["item_id"])
    item_id = st.query_params.get("item")
    if item_id:
        item(run_id, item_id)


def item(run_id: str, item_id: str) -> None:
    """One item: its text with the claims marked, then each claim in full."""
    detail = state.read(DI.item_detail, run_id, item_id)
    if detail is None:
        st.error(f"Item `{item_id}` is not in run `{run_id}`.", icon=":material/error:")
        return
    st.divider()
    st.subheader(f"Item `{item_id}`: {detail['label'] or 'no verdict'}")
    if detail["question"]:
        st.markdown(f"**Question:** {detail['question']}")
    gold = (detail["metadata"] or {}).get("label")
    if gold is not None:
        st.markdown(f"Gold label: **{gold}**")
    if detail["text"] is not None:
        marks = E.span_marks(detail["text"], detail["claims"])
        st.html(E.marked_spans(detail["text"], marks, state.COLOURS))
        if marks:
            kinds = sorted({kind for _, _, kind in marks})
            st.caption(f"Marked: the words the evidence does not back ({', '.join(kinds)}).")
    if detail["metadata"]:
        st.caption(f"metadata: {detail['metadata']}")
    for claim in detail["claims"]:
        claim_block(claim, detail["context"])


def claim_block(claim: dict[str, Any], context: str | None) -> None:
    """A claim's verdict, probabilities, experts and evidence (the deciding piece first)."""
    colour = state.COLOURS.get(claim["label"], "#888")
    with st.container(border=True):
        st.markdown(f"**Claim {claim['idx'] + 1}:** {claim['text']}")
        st.markdown(
            f"<span style='color:{colour}; font-weight:600'>{claim['label']}</span> · "
            f"p_supported {claim['p_supported']:.3f} · p_contradicted "
            f"{claim['p_contradicted']:.3f} · p_not_enough_info {claim['p_nei']:.3f} · "
            f"uncertainty {claim['uncertainty']:.3f} · "
            f"{'**abstained**' if claim['abstained'] else 'decided'}"
            + (" · no evidence found" if claim["no_evidence"] else ""),
            unsafe_allow_html=True,
        )
        experts = claim.get("experts") or {}
        if experts:
            st.markdown(
                "Experts (gate weight): "
                + ", ".join(
                    f"`{k}` {v:.2f}" for k, v in sorted(experts.items(), key=lambda kv: -kv[1])
                )
            )
        scores = [s for s in claim["scores"] if s["chunk_id"] == claim["best_chunk_id"]]
        if scores:
            st.dataframe(
                pd.DataFrame(scores)[
                    ["expert", "gate_weight", "p_supported", "p_contradicted", "p_nei"]
                ],
                hide_index=True,
            )
        ordered = sorted(
            claim["evidence"], key=lambda e: (e["chunk_id"] != claim["best_chunk_id"], e["rank"])
        )
        for i, ev in enumerate(ordered):
            deciding = ev["chunk_id"] == claim["best_chunk_id"]
            kind = "Deciding evidence" if deciding else "Evidence"
            title = f"{kind} · rank {ev['rank']} · {ev['doc_id']}" + E.similarity_note(ev)
            if deciding or i < 1:
                evidence_in_source(ev, context, title)
            else:
                with st.expander(title):
                    evidence_in_source(ev, context, None)


def evidence_in_source(ev: dict[str, Any], context: str | None, title: str | None) -> None:
    """One piece of evidence inside its source document, the span highlighted."""
    if title:
        st.markdown(f"**{title}**")
    found = E.locate(ev, context)
    if isinstance(found, str):
        st.caption(f"Not shown in its source: {found}. The evidence as stored with the run:")
        st.html(E.highlighted(E.Located(ev["text"], 0, len(ev["text"]), "chunk")))
        return
    st.caption(f"in {found.where}, characters {found.start}-{found.end}")
    st.html(E.highlighted(found))
