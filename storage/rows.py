"""Conversions between the stage contracts and table rows (plain dicts), both ways."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from verdictflow.contracts import (
    STORED,
    Claim,
    ClaimScore,
    ClaimVerdict,
    DocumentRecord,
    Evidence,
    InputError,
    Item,
    ItemVerdict,
    QualityResult,
    VerdictLabel,
)


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they were written in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def clean(value: Any) -> Any:
    """Text every database accepts: no NUL characters, no lone surrogates (also inside JSON)."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\ufffd")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {clean(str(k)): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def digest(*parts: Any) -> str:
    """A stable hex digest of a natural key or a content (None and "" differ)."""
    blob = json.dumps(list(parts), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8", "replace")).hexdigest()


def unique(rows: Iterable[dict[str, Any]], key: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """Rows with a natural key seen before in the same batch dropped (first one wins)."""
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        k = tuple(row[c] for c in key)
        if k not in seen:
            seen.add(k)
            yield row


def item_row(run_id: str, item: Item, position: int) -> dict[str, Any]:
    row = clean(
        {
            "run_id": run_id,
            "item_id": item.id,
            "text": item.text,
            "context": item.context,
            "question": item.question,
            "metadata": item.metadata,
        }
    )
    row["position"] = position
    row["content_hash"] = digest(row["text"], row["context"], row["question"])
    return row


def row_item(row: Any) -> Item:
    return Item.model_validate(
        {
            "id": row.item_id,
            "text": row.text,
            "context": row.context,
            "question": row.question,
            "metadata": row.metadata or {},
        },
        context=STORED,
    )


def claim_row(run_id: str, claim: Claim) -> dict[str, Any]:
    return clean(
        {
            "run_id": run_id,
            "claim_id": claim.claim_id,
            "item_id": claim.item_id,
            "idx": claim.index,
            "text": claim.text,
            "start": claim.start,
            "end": claim.end,
        }
    )


def evidence_row(run_id: str, ev: Evidence) -> dict[str, Any]:
    return clean(
        {
            "run_id": run_id,
            "claim_id": ev.claim_id,
            "doc_id": ev.doc_id,
            "chunk_id": ev.chunk_id,
            "score": float(ev.score),
            "rank": int(ev.rank),
            "origin": ev.origin,
            "text": ev.text,
            "similarity": None if ev.similarity is None else float(ev.similarity),
        }
    )


def row_evidence(row: Any) -> Evidence:
    return Evidence(
        claim_id=row.claim_id,
        doc_id=row.doc_id,
        chunk_id=row.chunk_id,
        text=row.text,
        score=row.score,
        rank=row.rank,
        origin=row.origin,
        similarity=row.similarity,
    )


def expert_score_rows(run_id: str, score: ClaimScore) -> Iterator[dict[str, Any]]:
    """One row per (expert, chunk) the expert scored; gate_weight None if not selected."""
    for expert, by_chunk in score.expert_probs.items():
        weight = score.experts.get(expert)
        for chunk_id, probs in by_chunk.items():
            yield clean(
                {
                    "run_id": run_id,
                    "claim_id": score.claim_id,
                    "expert": expert,
                    "chunk_id": chunk_id,
                    "p_supported": float(probs[0]),
                    "p_contradicted": float(probs[1]),
                    "p_nei": float(probs[2]),
                    "gate_weight": None if weight is None else float(weight),
                }
            )


def claim_verdict_row(run_id: str, cv: ClaimVerdict, idx: int) -> dict[str, Any]:
    return clean(
        {
            "run_id": run_id,
            "claim_id": cv.claim_id,
            "item_id": cv.item_id,
            "idx": idx,
            "text": cv.text,
            "label": str(cv.label),
            "p_supported": float(cv.p_supported),
            "p_contradicted": float(cv.probs[1]),
            "p_nei": float(cv.probs[2]),
            "uncertainty": float(cv.uncertainty),
            "abstained": bool(cv.abstained),
            "best_chunk_id": cv.best_evidence,
            "experts": {k: float(v) for k, v in cv.experts.items()},
            "no_evidence": bool(cv.no_evidence),
            "spans": [span.model_dump() for span in cv.spans],
        }
    )


def row_claim_verdict(row: Any, evidence: list[Evidence]) -> ClaimVerdict:
    return ClaimVerdict.model_validate(
        {
            "item_id": row.item_id,
            "claim_id": row.claim_id,
            "text": row.text,
            "label": VerdictLabel(row.label),
            "probs": (row.p_supported, row.p_contradicted, row.p_nei),
            "p_supported": row.p_supported,
            "uncertainty": row.uncertainty,
            "abstained": row.abstained,
            "evidence": evidence,
            "best_evidence": row.best_chunk_id,
            "experts": dict(row.experts or {}),
            "no_evidence": row.no_evidence,
            "spans": list(row.spans or []),
        },
        context=STORED,
    )


def item_verdict_row(run_id: str, iv: ItemVerdict) -> dict[str, Any]:
    return clean(
        {
            "run_id": run_id,
            "item_id": iv.item_id,
            "label": str(iv.label),
            "p_supported": float(iv.p_supported),
            "n_claims": len(iv.claims),
        }
    )


def input_error_row(run_id: str, err: InputError) -> dict[str, Any]:
    row = clean(
        {
            "run_id": run_id,
            "line": err.line,
            "item_id": err.item_id,
            "rule": err.rule,
            "message": err.message,
        }
    )
    row["key"] = digest(row["line"], row["item_id"], row["rule"])
    return row


def quality_row(run_id: str, res: QualityResult) -> dict[str, Any]:
    row = clean(
        {
            "run_id": run_id,
            "suite": res.suite,
            "expectation": res.expectation,
            "column": res.column,
            "success": bool(res.success),
            "unexpected_count": int(res.unexpected_count),
            "examples": list(res.examples),
            "details": dict(res.details),
        }
    )
    row["key"] = digest(row["suite"], row["expectation"], row["column"])
    return row


def document_row(doc: DocumentRecord, now: datetime) -> dict[str, Any]:
    row = clean(
        {
            "doc_id": doc.doc_id,
            "source": doc.source,
            "content_hash": doc.content_hash,
            "n_chunks": int(doc.n_chunks),
            "status": doc.status,
            "error": doc.error,
            "metadata": doc.metadata,
        }
    )
    row["ingested_at"] = now
    row["updated_at"] = now
    return row


def row_document(row: Any) -> DocumentRecord:
    return DocumentRecord(
        doc_id=row.doc_id,
        source=row.source,
        content_hash=row.content_hash,
        n_chunks=row.n_chunks,
        status=row.status,
        error=row.error,
        metadata=row.metadata or {},
    )


def row_quality(row: Any) -> QualityResult:
    return QualityResult(
        suite=row.suite,
        expectation=row.expectation,
        column=row.column,
        success=row.success,
        unexpected_count=row.unexpected_count,
        examples=list(row.examples or []),
        details=dict(row.details or {}),
    )
