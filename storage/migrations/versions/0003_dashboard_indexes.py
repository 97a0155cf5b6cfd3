"""Indexes of the dashboard: verdict counts per run, a run's items in order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the indexes the dashboard's aggregates and pages read through."""
    # Items per verdict per run (overview, filters): an index-only scan, no table read.
    op.create_index(
        "ix_item_verdicts_run_label", "item_verdicts", ["run_id", "label"], unique=False
    )
    # A run's items in order (the run page) and its first item (is the run labelled?).
    op.create_index("ix_items_run_position", "items", ["run_id", "position"], unique=False)


def downgrade() -> None:
    """Drop the dashboard's indexes."""
    op.drop_index("ix_items_run_position", table_name="items")
    op.drop_index("ix_item_verdicts_run_label", table_name="item_verdicts")
