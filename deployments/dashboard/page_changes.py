"""What changed: a reprocessed run's verdicts against its parent run's, item by item, with
the document change behind each."""

from __future__ import annotations

import difflib
import html

import pandas as pd
import streamlit as st

from deployments.dashboard import state
from storage import dashboard as D
from storage import dashboard_items as DI

PAGE_SIZE = 50


def render() -> None:
    """Draw the what-changed page (``?run=<reprocess run id>&item=<item id>``)."""
    st.title("What changed")
    runs = state.read(DI.reprocess_runs, 200)
    if not runs and not st.query_params.get("run"):
        st.info(
            "No run has been reprocessed yet. When an ingested document changes, the "
            "`reprocess-on-document-change` deployment re-verifies the items that cited it "
            "into a new run whose parent is the original run; it shows up here.",
            icon=":material/info:",
        )
        return
    run_id = state.pick_run(runs, "changes-pick", "Reprocessed run")
    if run_id is None:
        return
    run = state.read(D.get_run, run_id)
    parent = run["parent_run_id"]
    if not parent:
        st.warning(f"Run `{run_id}` is not a reprocessing: it has no parent run.")
        return
    summary = next((r for r in runs if r["run_id"] == run_id), None)
    cols = st.columns(2)
    cols[0].metric("Items re-verified", f"{summary['items']:,}" if summary else "-")
    cols[1].metric("Verdicts changed", f"{summary['changed']:,}" if summary else "-")
    st.caption(
        f"Reprocessed {state.when(run['started_at'])} UTC; the old verdicts are the parent "
        f"run's, `{parent}`."
    )
    only = st.toggle("Only items whose verdict changed", key="changes-only")
    total = state.read(DI.count_changes, run_id, parent, only)
    pages = max(1, -(-total // PAGE_SIZE))
    page = st.number_input(f"Page (of {pages})", 1, pages, 1, key="changes-page") - 1
    rows = state.read(DI.run_changes, run_id, parent, only, page, PAGE_SIZE)
    frame = pd.DataFrame(
        rows,
        columns=[
            "item_id",
            "old_label",
            "new_label",
            "old_p_supported",
            "new_p_supported",
            "changed",
        ],
    )
    picked = st.dataframe(
        frame,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key=f"changes-{run_id}-{only}-{page}",
        column_config={
            "old_p_supported": st.column_config.NumberColumn(format="%.3f"),
            "new_p_supported": st.column_config.NumberColumn(format="%.3f"),
        },
    )
    st.caption(f"{total:,} items; select one to see the document change behind it.")
    selected = picked.selection.rows if picked is not None else []
    if selected:
        st.query_params["item"] = str(frame.iloc[selected[0]]["item_id"])
    item_id = st.query_params.get("item")
    if item_id:
        cause(run_id, parent, item_id)


def cause(run_id: str, parent: str, item_id: str) -> None:
    """The documents the item's evidence came from, and how their text moved."""
    docs = state.read(DI.change_cause, run_id, parent, item_id)
    st.divider()
    st.subheader(f"Item `{item_id}`: why it changed")
    if not docs:
        st.caption("No evidence of this item cites a document in either run.")
        return
    for doc in docs:
        with st.container(border=True):
            flag = (
                ":orange[changed after the original run]"
                if doc["changed_since_parent"]
                else "unchanged since the original run"
            )
            st.markdown(
                f"**{doc['doc_id']}** · status {doc['status'] or 'unknown'} · "
                f"updated {state.when(doc['updated_at'])} UTC · {flag}"
            )
            old, new = "\n".join(doc["old"]), "\n".join(doc["new"])
            if not doc["new"]:
                st.caption("The new run took no evidence from it (deleted, or no longer found).")
            if doc["text_changed"] and old and new:
                st.caption(
                    "Evidence text, parent run → this run (removed struck out, added marked):"
                )
                st.html(diff_html(old, new))
            else:
                st.caption(
                    "Evidence text (the same in both runs):" if old == new else "Evidence text:"
                )
                st.html(f"<div style='white-space: pre-wrap'>{html.escape(new or old)}</div>")


def diff_html(old: str, new: str) -> str:
    """A word diff of two texts as HTML: removed words struck out, added ones marked."""
    a, b = old.split(" "), new.split(" ")
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(html.escape(" ".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(
                f"<del class='vf-old' style='color:#c62828'>{html.escape(' '.join(a[i1:i2]))}</del>"
            )
        if j2 > j1:
            out.append(
                "<mark class='vf-new' style='background:#c8e6c9'>"
                f"{html.escape(' '.join(b[j1:j2]))}</mark>"
            )
    return "<div style='white-space: pre-wrap'>" + " ".join(out) + "</div>"
