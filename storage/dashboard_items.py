"""The dashboard's reads of one run: its items a page at a time, one item in full, its
quarantined records and quality checks, and what a reprocessing changed.

Lists are ``LIMIT``/``OFFSET`` pages sorted in SQL (``ix_items_run_position`` for the
run's order); one item's claims, evidence and expert scores are looked up by key.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage import rows as R
from storage.dashboard import dataset_of, get_run
from storage.models import (
    claim_verdicts_t,
    claims_t,
    documents_t,
    evidence_t,
    input_errors_t,
    item_verdicts_t,
    items_t,
    quality_t,
    runs_t,
    scores_t,
)

# The item columns a run's item table sorts on.
ITEM_SORTS: dict[str, Any] = {
    "position": items_t.c.position,
    "item_id": items_t.c.item_id,
    "verdict": item_verdicts_t.c.label,
    "p_supported": item_verdicts_t.c.p_supported,
    "n_claims": item_verdicts_t.c.n_claims,
}


def _items_join() -> Any:
    it, iv = items_t.c, item_verdicts_t.c
    return items_t.outerjoin(
        item_verdicts_t, sa.and_(iv.run_id == it.run_id, iv.item_id == it.item_id)
    )


def _items_where(run_id: str, verdicts: tuple[str, ...]) -> list[sa.ColumnElement[bool]]:
    where = [items_t.c.run_id == run_id]
    if verdicts:
        where.append(item_verdicts_t.c.label.in_(list(verdicts)))
    return where


def count_items(conn: Connection, run_id: str, verdicts: tuple[str, ...] = ()) -> int:
    """Items of a run (with one of ``verdicts``; empty: all)."""
    q = sa.select(sa.func.count()).select_from(_items_join()).where(*_items_where(run_id, verdicts))
    return int(conn.execute(q).scalar_one())


def run_items(
    conn: Connection,
    run_id: str,
    sort: str = "position",
    descending: bool = False,
    page: int = 0,
    page_size: int = 50,
    verdicts: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """One page of a run's items: verdict, gold label (None: not labelled), p_supported,
    claims and the text's start."""
    it, iv = items_t.c, item_verdicts_t.c
    key = ITEM_SORTS.get(sort, it.position)
    order = [key.desc() if descending else key.asc(), it.position.asc()]
    q = (
        sa.select(
            it.position,
            it.item_id,
            iv.label.label("verdict"),
            it.metadata["label"].as_string().label("gold"),
            iv.p_supported,
            iv.n_claims,
            sa.func.substr(it.text, 1, 160).label("text"),
        )
        .select_from(_items_join())
        .where(*_items_where(run_id, verdicts))
        .order_by(*order)
        .limit(page_size)
        .offset(page * page_size)
    )
    return [dict(row._mapping) for row in conn.execute(q)]


def item_detail(conn: Connection, run_id: str, item_id: str) -> dict[str, Any] | None:
    """One item of a run: its text and context, its verdict, and each claim with its span in
    the item's text, probabilities, experts, expert scores and ranked evidence."""
    it = items_t.c
    item = conn.execute(
        sa.select(items_t).where(it.run_id == run_id, it.item_id == item_id)
    ).first()
    verdict = conn.execute(
        sa.select(item_verdicts_t).where(
            item_verdicts_t.c.run_id == run_id, item_verdicts_t.c.item_id == item_id
        )
    ).first()
    if item is None and verdict is None:
        return None
    cv, cl, ev, es = claim_verdicts_t.c, claims_t.c, evidence_t.c, scores_t.c
    spans = {
        r.claim_id: (r.start, r.end)
        for r in conn.execute(
            sa.select(cl.claim_id, cl.start, cl.end).where(
                cl.run_id == run_id, cl.item_id == item_id
            )
        )
    }
    claims = [
        dict(r._mapping)
        for r in conn.execute(
            sa.select(claim_verdicts_t)
            .where(cv.run_id == run_id, cv.item_id == item_id)
            .order_by(cv.idx)
        )
    ]
    ids = [c["claim_id"] for c in claims]
    evidence: dict[str, list[dict]] = {i: [] for i in ids}
    scores: dict[str, list[dict]] = {i: [] for i in ids}
    if ids:
        for r in conn.execute(
            sa.select(evidence_t)
            .where(ev.run_id == run_id, ev.claim_id.in_(ids))
            .order_by(ev.claim_id, ev.rank, ev.chunk_id)
        ):
            evidence[r.claim_id].append(dict(r._mapping))
        for r in conn.execute(
            sa.select(scores_t)
            .where(es.run_id == run_id, es.claim_id.in_(ids))
            .order_by(es.claim_id, es.expert, es.chunk_id)
        ):
            scores[r.claim_id].append(dict(r._mapping))
    for claim in claims:
        claim["start"], claim["end"] = spans.get(claim["claim_id"], (None, None))
        claim["evidence"] = evidence[claim["claim_id"]]
        claim["scores"] = scores[claim["claim_id"]]
    return {
        "run_id": run_id,
        "item_id": item_id,
        "text": item.text if item else None,
        "context": item.context if item else None,
        "question": item.question if item else None,
        "metadata": dict(item.metadata or {}) if item else {},
        "label": verdict.label if verdict else None,
        "p_supported": verdict.p_supported if verdict else None,
        "claims": claims,
    }


def input_errors(conn: Connection, run_id: str, limit: int = 200) -> tuple[int, list[dict]]:
    """(quarantined records, the first ``limit`` by line) of a run, with the rule each broke."""
    t = input_errors_t.c
    total = conn.execute(
        sa.select(sa.func.count()).select_from(input_errors_t).where(t.run_id == run_id)
    ).scalar_one()
    q = (
        sa.select(t.line, t.item_id, t.rule, t.message)
        .where(t.run_id == run_id)
        .order_by(t.line.is_(None), t.line, t.item_id, t.rule)
        .limit(limit)
    )
    return int(total), [dict(r._mapping) for r in conn.execute(q)]


def quality_checks(conn: Connection, run_id: str) -> list[dict[str, Any]]:
    """A run's Great Expectations outcomes, failures first."""
    t = quality_t.c
    q = (
        sa.select(t.suite, t.expectation, t.column, t.success, t.unexpected_count, t.details)
        .where(t.run_id == run_id)
        .order_by(t.success, t.suite, t.expectation, t.column)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def reprocess_runs(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    """The newest runs that re-verified items of a parent run, with items and changed verdicts."""
    r = runs_t.c
    new, old = item_verdicts_t.alias("new"), item_verdicts_t.alias("old")
    page = (
        sa.select(r.run_id, r.parent_run_id, r.started_at, r.status, dataset_of().label("dataset"))
        .where(r.parent_run_id.is_not(None))
        .order_by(r.started_at.desc(), r.run_id.desc())
        .limit(limit)
        .subquery("page")
    )
    changed = sa.case((sa.or_(old.c.label.is_(None), old.c.label != new.c.label), 1), else_=0)
    q = (
        sa.select(
            page.c.run_id,
            page.c.parent_run_id,
            page.c.started_at,
            page.c.status,
            page.c.dataset,
            sa.func.count(new.c.item_id).label("items"),
            sa.func.coalesce(
                sa.func.sum(sa.case((new.c.item_id.is_(None), 0), else_=changed)), 0
            ).label("changed"),
        )
        .select_from(
            page.outerjoin(new, new.c.run_id == page.c.run_id).outerjoin(
                old, sa.and_(old.c.run_id == page.c.parent_run_id, old.c.item_id == new.c.item_id)
            )
        )
        .group_by(
            page.c.run_id, page.c.parent_run_id, page.c.started_at, page.c.status, page.c.dataset
        )
        .order_by(page.c.started_at.desc(), page.c.run_id.desc())
    )
    return [
        {**dict(row._mapping), "started_at": R.as_utc(row.started_at)} for row in conn.execute(q)
    ]


def _changes(run_id: str, parent_run_id: str, only_changed: bool) -> tuple[Any, ...]:
    new, old = item_verdicts_t.alias("new"), item_verdicts_t.alias("old")
    join = new.outerjoin(
        old, sa.and_(old.c.run_id == parent_run_id, old.c.item_id == new.c.item_id)
    )
    changed = sa.or_(old.c.label.is_(None), old.c.label != new.c.label)
    where = [new.c.run_id == run_id]
    if only_changed:
        where.append(changed)
    return new, old, join, changed, where


def count_changes(
    conn: Connection, run_id: str, parent_run_id: str, only_changed: bool = False
) -> int:
    """Items of a reprocess run (only those whose verdict changed, if asked)."""
    _, _, join, _, where = _changes(run_id, parent_run_id, only_changed)
    return int(
        conn.execute(sa.select(sa.func.count()).select_from(join).where(*where)).scalar_one()
    )


def run_changes(
    conn: Connection,
    run_id: str,
    parent_run_id: str,
    only_changed: bool = False,
    page: int = 0,
    page_size: int = 50,
) -> list[dict[str, Any]]:
    """One page of a reprocess run's items, changed first: old (parent run) and new verdict."""
    new, old, join, changed, where = _changes(run_id, parent_run_id, only_changed)
    q = (
        sa.select(
            new.c.item_id,
            old.c.label.label("old_label"),
            new.c.label.label("new_label"),
            old.c.p_supported.label("old_p_supported"),
            new.c.p_supported.label("new_p_supported"),
            sa.case((changed, True), else_=False).label("changed"),
        )
        .select_from(join)
        .where(*where)
        .order_by(sa.case((changed, 0), else_=1), new.c.item_id)
        .limit(page_size)
        .offset(page * page_size)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def change_cause(
    conn: Connection, run_id: str, parent_run_id: str, item_id: str
) -> list[dict[str, Any]]:
    """The documents an item's evidence came from in the parent and the new run: each with
    its state now, whether it changed after the parent run started, and the evidence text
    taken from it in each run (best rank first)."""
    cv, ev, d = claim_verdicts_t.c, evidence_t.c, documents_t.c
    parent = get_run(conn, parent_run_id)
    q = (
        sa.select(ev.run_id, ev.doc_id, ev.chunk_id, ev.rank, ev.text, ev.origin, cv.idx)
        .select_from(
            evidence_t.join(
                claim_verdicts_t, sa.and_(cv.run_id == ev.run_id, cv.claim_id == ev.claim_id)
            )
        )
        .where(ev.run_id.in_([run_id, parent_run_id]), cv.item_id == item_id)
        .order_by(ev.doc_id, cv.idx, ev.rank)
    )
    by_doc: dict[str, dict[str, Any]] = {}
    for r in conn.execute(q):
        doc = by_doc.setdefault(
            r.doc_id, {"doc_id": r.doc_id, "origin": r.origin, "old": [], "new": []}
        )
        side = "new" if r.run_id == run_id else "old"
        if r.text not in doc[side]:
            doc[side].append(r.text)
    if not by_doc:
        return []
    docs = {
        r.doc_id: r
        for r in conn.execute(
            sa.select(d.doc_id, d.status, d.content_hash, d.updated_at, d.source).where(
                d.doc_id.in_(list(by_doc))
            )
        )
    }
    since = parent["started_at"] if parent else None
    for doc_id, doc in by_doc.items():
        row = docs.get(doc_id)
        updated = R.as_utc(row.updated_at) if row else None
        doc.update(
            status=row.status if row else None,
            source=row.source if row else None,
            content_hash=row.content_hash if row else None,
            updated_at=updated,
            changed_since_parent=bool(updated and since and updated > since),
            text_changed=doc["old"] != doc["new"],
        )
    return sorted(by_doc.values(), key=lambda x: (not x["changed_since_parent"], x["doc_id"]))
