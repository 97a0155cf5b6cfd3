"""The spans of each claim verdict: the words its evidence does not back.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSON everywhere, JSONB on PostgreSQL (as storage.models.JSONType at this revision).
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add claim_verdicts.spans; verdicts stored before it have none ([])."""
    op.add_column(
        "claim_verdicts",
        sa.Column("spans", JSON_TYPE, nullable=False, server_default="[]"),
    )


def downgrade() -> None:
    """Drop claim_verdicts.spans (a table copy on SQLite)."""
    with op.batch_alter_table("claim_verdicts") as batch:
        batch.drop_column("spans")
