"""SQLAlchemy 2 models of everything verdictflow stores.

Every table is keyed on its natural key, so that a write that meets an existing row can be
skipped (``ON CONFLICT DO NOTHING``) and re-running a run writes nothing twice. Where a
natural key has a nullable part (an input error without a line, a quality result without a
column), the row carries a ``key`` column: a stable digest of that natural key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, Integer, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# JSON on every database; JSONB on PostgreSQL (indexable, compact).
JSONType = JSON().with_variant(JSONB(), "postgresql")

# Longest id (run, item, claim, document, chunk, expert) a key column holds.
ID_CHARS = 512

RUN_KINDS: tuple[str, ...] = ("verify", "ingest", "train", "calibrate", "evaluate", "reprocess")
RUN_STATUSES: tuple[str, ...] = ("running", "completed", "failed", "quality_failed")
DOCUMENT_STATUSES: tuple[str, ...] = ("active", "deleted", "failed")


class Base(DeclarativeBase):
    """Declarative base of verdictflow's tables."""

    type_annotation_map = {dict[str, Any]: JSONType, list[Any]: JSONType}


class Run(Base):
    """One flow run: what it was asked, what it did, how long it took."""

    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    code_version: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    parent_run_id: Mapped[str | None] = mapped_column(String(ID_CHARS))
    prefect_flow_run_id: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_runs_kind_started_at", "kind", "started_at"),
        Index("ix_runs_started_at", "started_at"),
        Index("ix_runs_parent_run_id", "parent_run_id"),
    )


class Document(Base):
    """A corpus document (its chunks live in LanceDB)."""

    __tablename__ = "documents"

    doc_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(Text)
    n_chunks: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ItemRow(Base):
    """An item as a run received it (reprocessing re-reads it from here)."""

    __tablename__ = "items"

    run_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    context: Mapped[str | None] = mapped_column(Text)
    question: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_items_run_position", "run_id", "position"),)


class ClaimRow(Base):
    """A claim split from an item; offsets are into the item's text."""

    __tablename__ = "claims"

    run_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(ID_CHARS))
    idx: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_claims_run_item", "run_id", "item_id"),)


class EvidenceRow(Base):
    """A link from a claim to an evidence chunk: its retrieval score and rank, and the
    claim's similarity to it as shown to readers (None in runs stored before it)."""

    __tablename__ = "evidence"

    run_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    doc_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    chunk_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    origin: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    similarity: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (Index("ix_evidence_doc_id", "doc_id"),)


class ExpertScoreRow(Base):
    """One expert's probabilities for a (claim, chunk) pair and the gate's weight on it."""

    __tablename__ = "expert_scores"

    run_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    expert: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    chunk_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    p_supported: Mapped[float] = mapped_column(Float)
    p_contradicted: Mapped[float] = mapped_column(Float)
    p_nei: Mapped[float] = mapped_column(Float)
    gate_weight: Mapped[float | None] = mapped_column(Float)


class ClaimVerdictRow(Base):
    """The verdict on a claim, with the experts the gate chose and their weights."""

    __tablename__ = "claim_verdicts"

    run_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(ID_CHARS))
    idx: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(32))
    p_supported: Mapped[float] = mapped_column(Float)
    p_contradicted: Mapped[float] = mapped_column(Float)
    p_nei: Mapped[float] = mapped_column(Float)
    uncertainty: Mapped[float] = mapped_column(Float)
    abstained: Mapped[bool] = mapped_column(Boolean)
    best_chunk_id: Mapped[str | None] = mapped_column(Text)
    experts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    no_evidence: Mapped[bool] = mapped_column(Boolean)
    # The claim's unsupported and contradicted spans (``verdictflow.contracts.Span`` dicts).
    spans: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")

    __table_args__ = (Index("ix_claim_verdicts_run_item", "run_id", "item_id"),)


class ItemVerdictRow(Base):
    """The verdict on an item (its weakest claim)."""

    __tablename__ = "item_verdicts"

    run_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    label: Mapped[str] = mapped_column(String(32))
    p_supported: Mapped[float] = mapped_column(Float)
    n_claims: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_item_verdicts_run_label", "run_id", "label"),)


class InputErrorRow(Base):
    """A quarantined input record and the rule it broke."""

    __tablename__ = "input_errors"

    run_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # digest(line, item_id, rule)
    line: Mapped[int | None] = mapped_column(Integer)
    item_id: Mapped[str | None] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)


class QualityResultRow(Base):
    """One expectation's outcome in a Great Expectations gate."""

    __tablename__ = "quality_results"

    run_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # digest(suite, exp., column)
    suite: Mapped[str] = mapped_column(Text)
    expectation: Mapped[str] = mapped_column(Text)
    column: Mapped[str | None] = mapped_column(Text)
    success: Mapped[bool] = mapped_column(Boolean)
    unexpected_count: Mapped[int] = mapped_column(Integer)
    examples: Mapped[list[Any]] = mapped_column(default=list)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ApiKeyRow(Base):
    """An API key of ``verdictflow api``: only the sha256 of the secret is kept."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # public part of the key
    name: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the whole key
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    """Who did what through the API (or the key commands), and when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    key_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(Text)  # a run id, a key id
    status: Mapped[int | None] = mapped_column(Integer)  # the HTTP status answered
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_key_id_at", "key_id", "at"),
    )


# The Core tables, for the repository's bulk statements.
runs_t: Table = Run.__table__  # type: ignore[assignment]
documents_t: Table = Document.__table__  # type: ignore[assignment]
items_t: Table = ItemRow.__table__  # type: ignore[assignment]
claims_t: Table = ClaimRow.__table__  # type: ignore[assignment]
evidence_t: Table = EvidenceRow.__table__  # type: ignore[assignment]
scores_t: Table = ExpertScoreRow.__table__  # type: ignore[assignment]
claim_verdicts_t: Table = ClaimVerdictRow.__table__  # type: ignore[assignment]
item_verdicts_t: Table = ItemVerdictRow.__table__  # type: ignore[assignment]
input_errors_t: Table = InputErrorRow.__table__  # type: ignore[assignment]
quality_t: Table = QualityResultRow.__table__  # type: ignore[assignment]
api_keys_t: Table = ApiKeyRow.__table__  # type: ignore[assignment]
audit_t: Table = AuditRow.__table__  # type: ignore[assignment]
