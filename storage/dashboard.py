"""The dashboard's reads of runs: the filters, the overview's aggregates, run pickers.

Every function takes an open connection and returns plain dicts; none reads a whole table.
Aggregates are ``GROUP BY`` on indexed columns (``ix_item_verdicts_run_label``) and lists are
``LIMIT`` pages. A run's items and its reprocessing are in ``storage.dashboard_items``; the
expert and calibration figures in ``storage.dashboard_stats``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from storage import rows as R
from storage.models import (
    claim_verdicts_t,
    item_verdicts_t,
    quality_t,
    runs_t,
)

VERDICTS: tuple[str, ...] = ("supported", "contradicted", "unsupported", "uncertain")
AD_HOC = "ad hoc"
REPROCESS = "reprocess"


@dataclass(frozen=True)
class RunFilter:
    """Which runs a page shows: datasets (empty: all), a time range, verdicts, kinds."""

    datasets: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    verdicts: tuple[str, ...] = ()  # runs holding an item with one of these; empty: all
    kinds: tuple[str, ...] = field(default=("verify",))


def has_schema(engine: Engine) -> bool:
    """Whether the database holds verdictflow's tables (the dashboard never creates them)."""
    return sa.inspect(engine).has_table(runs_t.name)


def dataset_of() -> sa.ColumnElement[str]:
    """A run's dataset or deployment: ``parameters.dataset``, else ``parameters.deployment``,
    else "reprocess" for a run with a parent, else "ad hoc"."""
    p = runs_t.c.parameters
    return sa.func.coalesce(
        p["dataset"].as_string(),
        p["deployment"].as_string(),
        sa.case(
            (runs_t.c.parent_run_id.is_not(None), sa.literal(REPROCESS)), else_=sa.literal(AD_HOC)
        ),
    )


def _when(conn: Connection, value: datetime) -> datetime:
    """A bound timestamp as the dialect stores it (SQLite: naive UTC)."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(tzinfo=None) if conn.dialect.name == "sqlite" else value


def run_where(conn: Connection, f: RunFilter) -> list[sa.ColumnElement[bool]]:
    r = runs_t.c
    where: list[sa.ColumnElement[bool]] = [r.kind.in_(list(f.kinds))]
    if f.datasets:
        where.append(dataset_of().in_(list(f.datasets)))
    if f.since is not None:
        where.append(r.started_at >= _when(conn, f.since))
    if f.until is not None:
        where.append(r.started_at < _when(conn, f.until))
    if f.verdicts and set(f.verdicts) != set(VERDICTS):
        iv = item_verdicts_t.alias("held").c
        where.append(sa.exists().where(iv.run_id == r.run_id, iv.label.in_(list(f.verdicts))))
    return where


def summary(conn: Connection) -> dict[str, int]:
    """Runs by kind and the stored claim verdicts (an empty database: all zero)."""
    kinds = dict(
        conn.execute(sa.select(runs_t.c.kind, sa.func.count()).group_by(runs_t.c.kind)).all()
    )
    claims = conn.execute(sa.select(sa.func.count()).select_from(claim_verdicts_t)).scalar_one()
    return {"runs": sum(kinds.values()), "claim_verdicts": claims, **kinds}


def datasets(conn: Connection, kinds: tuple[str, ...] = ("verify",)) -> list[str]:
    """The datasets/deployments runs of these kinds came from."""
    q = sa.select(dataset_of().label("d")).where(runs_t.c.kind.in_(list(kinds))).distinct()
    return sorted(conn.execute(q).scalars().all())


def time_span(conn: Connection, kinds: tuple[str, ...] = ("verify",)) -> tuple[Any, Any]:
    """(first, last) start time of runs of these kinds; (None, None) without runs."""
    r = runs_t.c
    q = sa.select(sa.func.min(r.started_at), sa.func.max(r.started_at)).where(
        r.kind.in_(list(kinds))
    )
    first, last = conn.execute(q).one()
    return R.as_utc(first), R.as_utc(last)


def _runs_page(conn: Connection, f: RunFilter, limit: int) -> sa.Subquery:
    r = runs_t.c
    return (
        sa.select(
            r.run_id,
            r.kind,
            r.status,
            r.started_at,
            r.finished_at,
            r.parent_run_id,
            dataset_of().label("dataset"),
            r.timings["total_s"].as_float().label("total_s"),
        )
        .where(*run_where(conn, f))
        .order_by(r.started_at.desc(), r.run_id.desc())
        .limit(limit)
        .subquery("page")
    )


def run_overview(conn: Connection, f: RunFilter, limit: int = 500) -> list[dict[str, Any]]:
    """The newest ``limit`` runs matching ``f``, oldest first, each with its items per verdict,
    claims, quality checks failed (the batch gate's apart), latency and throughput."""
    page = _runs_page(conn, f, limit)
    ids = sa.select(page.c.run_id)
    runs = {r.run_id: dict(r._mapping) for r in conn.execute(sa.select(page))}
    if not runs:
        return []
    iv, q = item_verdicts_t.c, quality_t.c
    # Claims per run from the item verdicts (each counts its claims): one scan, not two.
    labels = conn.execute(
        sa.select(
            iv.run_id,
            iv.label,
            sa.func.count().label("n"),
            sa.func.sum(iv.n_claims).label("claims"),
        )
        .where(iv.run_id.in_(ids))
        .group_by(iv.run_id, iv.label)
    ).all()
    claims: dict[str, int] = {}
    failed = sa.func.sum(sa.case((q.success, 0), else_=1))
    checks = conn.execute(
        sa.select(q.run_id, q.suite, sa.func.count().label("n"), failed.label("failed"))
        .where(q.run_id.in_(ids))
        .group_by(q.run_id, q.suite)
    ).all()
    for run in runs.values():
        run.update({label: 0 for label in VERDICTS}, items=0, checks=0, failed_checks=0)
        run["batch_gate"] = None  # no batch gate ran
        run["started_at"] = R.as_utc(run["started_at"])
        run["finished_at"] = R.as_utc(run["finished_at"])
    for row in labels:
        run = runs[row.run_id]
        run[row.label] = run.get(row.label, 0) + row.n
        run["items"] += row.n
        claims[row.run_id] = claims.get(row.run_id, 0) + int(row.claims or 0)
    for row in checks:
        run = runs[row.run_id]
        run["checks"] += row.n
        run["failed_checks"] += int(row.failed or 0)
        if row.suite == "batch":
            run["batch_gate"] = "failed" if row.failed else "passed"
    for run_id, run in runs.items():
        run["claims"] = claims.get(run_id, 0)
        total = run["total_s"]
        run["claims_per_s"] = run["claims"] / total if total else None
        run["items_per_s"] = run["items"] / total if total else None
        for label in VERDICTS:
            run[f"share_{label}"] = run[label] / run["items"] if run["items"] else None
    return sorted(runs.values(), key=lambda r: (r["started_at"], r["run_id"]))


def count_runs(conn: Connection, f: RunFilter) -> int:
    """How many runs match ``f``."""
    q = sa.select(sa.func.count()).select_from(runs_t).where(*run_where(conn, f))
    return int(conn.execute(q).scalar_one())


def verdict_totals(conn: Connection, f: RunFilter) -> dict[str, int]:
    """Items per verdict over every run matching ``f`` (not only the newest page)."""
    iv, r = item_verdicts_t.c, runs_t.c
    q = (
        sa.select(iv.label, sa.func.count())
        .select_from(item_verdicts_t.join(runs_t, r.run_id == iv.run_id))
        .where(*run_where(conn, f))
        .group_by(iv.label)
    )
    found = dict(conn.execute(q).all())
    return {
        label: int(found.get(label, 0))
        for label in (*VERDICTS, *sorted(set(found) - set(VERDICTS)))
    }


def recent_runs(
    conn: Connection,
    limit: int = 200,
    kinds: tuple[str, ...] = ("verify",),
    reprocessed: bool = False,
) -> list[dict[str, Any]]:
    """The newest runs (``reprocessed``: only those with a parent run), for a picker."""
    r = runs_t.c
    q = sa.select(r.run_id, r.status, r.started_at, r.parent_run_id, dataset_of().label("dataset"))
    q = q.where(r.kind.in_(list(kinds)))
    if reprocessed:
        q = q.where(r.parent_run_id.is_not(None))
    q = q.order_by(r.started_at.desc(), r.run_id.desc()).limit(limit)
    return [
        {**dict(row._mapping), "started_at": R.as_utc(row.started_at)} for row in conn.execute(q)
    ]


def get_run(conn: Connection, run_id: str) -> dict[str, Any] | None:
    """A run's columns and dataset (None when no run has this id)."""
    q = sa.select(runs_t, dataset_of().label("dataset")).where(runs_t.c.run_id == run_id)
    row = conn.execute(q).first()
    if row is None:
        return None
    out = dict(row._mapping)
    out["started_at"], out["finished_at"] = (
        R.as_utc(out["started_at"]),
        R.as_utc(out["finished_at"]),
    )
    return out


def run_verdict_counts(conn: Connection, run_id: str) -> dict[str, int]:
    """Items per verdict of one run."""
    iv = item_verdicts_t.c
    q = sa.select(iv.label, sa.func.count()).where(iv.run_id == run_id).group_by(iv.label)
    return {str(label): int(n) for label, n in conn.execute(q).all()}
