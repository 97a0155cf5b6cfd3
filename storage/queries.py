"""Reads on a connection: verdicts rebuilt with their evidence, items citing documents."""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage import rows as R
from storage.models import (
    Base,
    claim_verdicts_t,
    claims_t,
    evidence_t,
    item_verdicts_t,
    items_t,
)
from verdictflow.contracts import Evidence, ItemVerdict


def load_item_verdicts(conn: Connection, run_id: str) -> list[ItemVerdict]:
    """A run's item verdicts in item order, claims in order, each with its ranked evidence."""
    pos = (
        sa.select(items_t.c.item_id, items_t.c.position)
        .where(items_t.c.run_id == run_id)
        .subquery()
    )
    ivs = conn.execute(
        sa.select(item_verdicts_t)
        .outerjoin(pos, pos.c.item_id == item_verdicts_t.c.item_id)
        .where(item_verdicts_t.c.run_id == run_id)
        .order_by(pos.c.position.is_(None), pos.c.position, item_verdicts_t.c.item_id)
    ).all()
    cvs = conn.execute(
        sa.select(claim_verdicts_t)
        .where(claim_verdicts_t.c.run_id == run_id)
        .order_by(claim_verdicts_t.c.item_id, claim_verdicts_t.c.idx)
    ).all()
    evs = conn.execute(
        sa.select(evidence_t)
        .where(evidence_t.c.run_id == run_id)
        .order_by(evidence_t.c.claim_id, evidence_t.c.rank, evidence_t.c.chunk_id)
    ).all()
    evidence: dict[str, list[Evidence]] = defaultdict(list)
    for e in evs:
        evidence[e.claim_id].append(R.row_evidence(e))
    claims = defaultdict(list)
    for cv in cvs:
        claims[cv.item_id].append(R.row_claim_verdict(cv, evidence.get(cv.claim_id, [])))
    return [
        ItemVerdict(
            item_id=iv.item_id,
            label=iv.label,
            p_supported=iv.p_supported,
            claims=claims.get(iv.item_id, []),
        )
        for iv in ivs
    ]


def items_citing_documents(conn: Connection, doc_ids: list[str]) -> list[tuple[str, str]]:
    """(run_id, item_id) of items with evidence from these documents, via claims or verdicts."""
    ev = evidence_t.c
    found: set[tuple[str, str]] = set()
    for claim_table in (claims_t, claim_verdicts_t):
        c = claim_table.c
        q = (
            sa.select(c.run_id, c.item_id)
            .distinct()
            .join(evidence_t, sa.and_(ev.run_id == c.run_id, ev.claim_id == c.claim_id))
            .where(ev.doc_id.in_(doc_ids))
        )
        found.update((r.run_id, r.item_id) for r in conn.execute(q))
    return sorted(found)


def table_counts(conn: Connection) -> dict[str, int]:
    """Rows per table of the models."""
    return {
        name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
        for name, t in sorted(Base.metadata.tables.items())
    }
