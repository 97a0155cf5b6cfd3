"""The claim's similarity to each evidence chunk, the score a reader is shown.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add evidence.similarity; evidence stored before it has none (NULL)."""
    op.add_column("evidence", sa.Column("similarity", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop evidence.similarity (a table copy on SQLite)."""
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("similarity")
