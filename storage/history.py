"""An item's verdicts across the runs that checked it (reprocessing included), newest first."""

from __future__ import annotations

import sqlalchemy as sa

from storage import rows as R
from storage.engine import with_retries
from storage.models import item_verdicts_t, runs_t
from storage.repository import Repository


def item_verdict_history(repo: Repository, item_id: str, limit: int = 100) -> list[dict]:
    """Every stored verdict on ``item_id``, newest run first, with its run's status and time."""
    iv, run = item_verdicts_t.c, runs_t.c
    q = (
        sa.select(
            iv.run_id,
            iv.item_id,
            iv.label,
            iv.p_supported,
            iv.n_claims,
            run.started_at,
            run.status.label("run_status"),
        )
        .join(runs_t, run.run_id == iv.run_id)
        .where(iv.item_id == item_id)
        .order_by(run.started_at.desc(), iv.run_id.desc())
        .limit(limit)
    )

    def read() -> list[dict]:
        with repo.engine.connect() as conn:
            found = conn.execute(q).all()
        return [{**dict(r._mapping), "started_at": R.as_utc(r.started_at)} for r in found]

    return with_retries(read, "item_verdict_history")
