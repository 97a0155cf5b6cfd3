"""Initial schema: runs, documents, items, claims, evidence, scores, verdicts, errors, quality.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSON everywhere, JSONB on PostgreSQL (as storage.models.JSONType at this revision).
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "claim_verdicts",
        sa.Column("run_id", sa.String(length=512), nullable=False),
        sa.Column("claim_id", sa.String(length=512), nullable=False),
        sa.Column("item_id", sa.String(length=512), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("p_supported", sa.Float(), nullable=False),
        sa.Column("p_contradicted", sa.Float(), nullable=False),
        sa.Column("p_nei", sa.Float(), nullable=False),
        sa.Column("uncertainty", sa.Float(), nullable=False),
        sa.Column("abstained", sa.Boolean(), nullable=False),
        sa.Column("best_chunk_id", sa.Text(), nullable=True),
        sa.Column("experts", JSON_TYPE, nullable=False),
        sa.Column("no_evidence", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "claim_id"),
    )
    op.create_index(
        "ix_claim_verdicts_run_item", "claim_verdicts", ["run_id", "item_id"], unique=False
    )

    op.create_table(
        "claims",
        sa.Column("run_id", sa.String(length=512), nullable=False),
        sa.Column("claim_id", sa.String(length=512), nullable=False),
        sa.Column("item_id", sa.String(length=512), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "claim_id"),
    )
    op.create_index("ix_claims_run_item", "claims", ["run_id", "item_id"], unique=False)

    op.create_table(
        "documents",
        sa.Column("doc_id", sa.String(length=512), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("n_chunks", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("metadata", JSON_TYPE, nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("doc_id"),
    )
    op.create_table(
        "evidence",
        sa.Column("run_id", sa.String(length=512), nullable=False),
        sa.Column("claim_id", sa.String(length=512), nullable=False),
        sa.Column("doc_id", sa.String(length=512), nullable=False),
        sa.Column("chunk_id", sa.String(length=512), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "claim_id", "doc_id", "chunk_id"),
    )
    op.create_index("ix_evidence_doc_id", "evidence", ["doc_id"], unique=False)

    op.create_table(
        "expert_scores",
        sa.Column("run_id", sa.String(length=512), nullable=False),
        sa.Column("claim_id", sa.String(length=512), nullable=False),
        sa.Column("expert", sa.String(length=512), nullable=False),
        sa.Column("chunk_id", sa.String(length=512), nullable=False),
        sa.Column("p_supported", sa.Float(), nullable=False),
        sa.Column("p_contradicted", sa.Float(), nullable=False),
        sa.Column("p_nei", sa.Float(), nullable=False),
        sa.Column("gate_weight", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "claim_id", "expert", "chunk_id"),
    )
    op.create_table(
        "input_errors",
        sa.Column("run_id", sa.String(length=512), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Text(), nullable=True),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key"),
    )
    op.create_table(
        "item_verdicts",
        sa.Column("run_id", sa.String(length=512), nullable=False),
        sa.Column("item_id", sa.String(length=512), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("p_supported", sa.Float(), nullable=False),
        sa.Column("n_claims", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "item_id"),
    )
    op.create_table(
        "items",
        sa.Column("run_id", sa.String(length=512), nullable=False),
        sa.Column("item_id", sa.String(length=512), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("metadata", JSON_TYPE, nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "item_id"),
    )
    op.create_table(
        "quality_results",
        sa.Column("run_id", sa.String(length=512), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("suite", sa.Text(), nullable=False),
        sa.Column("expectation", sa.Text(), nullable=False),
        sa.Column("column", sa.Text(), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("unexpected_count", sa.Integer(), nullable=False),
        sa.Column("examples", JSON_TYPE, nullable=False),
        sa.Column("details", JSON_TYPE, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key"),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("parameters", JSON_TYPE, nullable=False),
        sa.Column("counts", JSON_TYPE, nullable=False),
        sa.Column("timings", JSON_TYPE, nullable=False),
        sa.Column("code_version", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parent_run_id", sa.String(length=512), nullable=True),
        sa.Column("prefect_flow_run_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_runs_kind_started_at", "runs", ["kind", "started_at"], unique=False)
    op.create_index("ix_runs_parent_run_id", "runs", ["parent_run_id"], unique=False)
    op.create_index("ix_runs_started_at", "runs", ["started_at"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_runs_started_at", table_name="runs")
    op.drop_index("ix_runs_parent_run_id", table_name="runs")
    op.drop_index("ix_runs_kind_started_at", table_name="runs")

    op.drop_table("runs")
    op.drop_table("quality_results")
    op.drop_table("items")
    op.drop_table("item_verdicts")
    op.drop_table("input_errors")
    op.drop_table("expert_scores")
    op.drop_index("ix_evidence_doc_id", table_name="evidence")

    op.drop_table("evidence")
    op.drop_table("documents")
    op.drop_index("ix_claims_run_item", table_name="claims")

    op.drop_table("claims")
    op.drop_index("ix_claim_verdicts_run_item", table_name="claim_verdicts")

    op.drop_table("claim_verdicts")
