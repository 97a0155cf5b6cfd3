"""Idempotent bulk writes on a connection: insert-or-skip on the natural key, document upserts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from storage.copy import copy_insert_ignore
from storage.models import documents_t
from storage.rows import unique
from verdictflow.config import get_settings


def primary_key(table: sa.Table) -> tuple[str, ...]:
    """The names of a table's key columns."""
    return tuple(c.name for c in table.primary_key.columns)


def _dialect_insert(conn: Connection, table: sa.Table) -> Any:
    return (sqlite_insert if conn.dialect.name == "sqlite" else pg_insert)(table)


def check_lengths(table: sa.Table, rows: Iterable[dict]) -> None:
    """Refuse a row whose string exceeds its column's length, naming the row and the rule."""
    limited = [(c.name, c.type.length) for c in table.columns if getattr(c.type, "length", None)]
    for row in rows:
        for name, limit in limited:
            value = row.get(name)
            if isinstance(value, str) and len(value) > limit:
                key = ", ".join(f"{k}={str(row.get(k))[:60]!r}" for k in primary_key(table))
                raise ValueError(
                    f"{table.name} row ({key}): {name} has {len(value):,} characters, "
                    f"over the limit of {limit} (rule: max_length)"
                )


def insert_ignore(conn: Connection, table: sa.Table, rows: Iterable[dict]) -> int:
    """Insert rows in batches, skipping those whose natural key exists; returns rows inserted.

    PostgreSQL batches of ``copy_min_rows`` or more go through COPY; the rest are multi-row
    ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` statements of ``batch_size`` rows.
    """
    pk = primary_key(table)
    batch = list(unique(rows, pk))
    if not batch:
        return 0
    check_lengths(table, batch)
    settings = get_settings().storage
    if conn.dialect.name == "postgresql" and len(batch) >= settings.copy_min_rows:
        return copy_insert_ignore(conn, table, batch)
    stmt = (
        _dialect_insert(conn, table)
        .on_conflict_do_nothing(index_elements=list(pk))
        .returning(table.c[pk[0]])
    )
    size = settings.batch_size
    return sum(
        len(conn.execute(stmt, batch[i : i + size]).all()) for i in range(0, len(batch), size)
    )


def upsert_documents(conn: Connection, rows: list[dict]) -> None:
    """Insert documents; update a row only when its hash, status, chunks, source or error changed.

    ``ingested_at`` moves only when the content hash changes; ``updated_at`` on any change.
    """
    check_lengths(documents_t, rows)
    ins = _dialect_insert(conn, documents_t)
    ex, cur = ins.excluded, documents_t.c
    changed = sa.or_(
        cur.content_hash != ex.content_hash,
        cur.status != ex.status,
        cur.n_chunks != ex.n_chunks,
        cur.source != ex.source,
        sa.func.coalesce(cur.error, "") != sa.func.coalesce(ex.error, ""),
    )
    stmt = ins.on_conflict_do_update(
        index_elements=["doc_id"],
        set_={
            "source": ex.source,
            "content_hash": ex.content_hash,
            "n_chunks": ex.n_chunks,
            "status": ex.status,
            "error": ex.error,
            "metadata": ex["metadata"],
            "updated_at": ex.updated_at,
            "ingested_at": sa.case(
                (cur.content_hash != ex.content_hash, ex.ingested_at), else_=cur.ingested_at
            ),
        },
        where=changed,
    )
    size = get_settings().storage.batch_size
    for i in range(0, len(rows), size):
        conn.execute(stmt, rows[i : i + size])
