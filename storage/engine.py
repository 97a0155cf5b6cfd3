"""Engines for SQLite and PostgreSQL, and retrying a write when the connection drops.

SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` for writes (so two writers queue on
the busy timeout instead of failing on a lock upgrade); PostgreSQL gets ``pool_pre_ping`` so a
connection that died between calls is replaced before use.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from verdictflow.config import get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

WRITE_OPTION = "verdictflow_write"


def _finite(value: Any) -> Any:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays as plain numbers and lists; anything else as its str()."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def json_dumps(value: Any) -> str:
    """JSON for JSON columns: unicode kept, NaN/inf as null (PostgreSQL rejects them)."""
    try:
        return json.dumps(value, ensure_ascii=False, default=_jsonable, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), ensure_ascii=False, default=_jsonable, allow_nan=False)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` set up for verdictflow's access pattern."""
    settings = get_settings().storage
    backend = sa.engine.make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = sa.create_engine(
            url,
            json_serializer=json_dumps,
            connect_args={"timeout": settings.sqlite_busy_timeout_s, "check_same_thread": False},
            pool_pre_ping=True,
        )
        busy_ms = int(settings.sqlite_busy_timeout_s * 1000)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit one is deferred and late).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get(WRITE_OPTION, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return sa.create_engine(url, json_serializer=json_dumps, pool_pre_ping=True)


def is_transient(exc: BaseException) -> bool:
    """Whether a database error is worth retrying (dropped connection, lock, restart)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError)


def with_retries(fn: Callable[[], T], what: str) -> T:
    """Run ``fn`` (one whole transaction), retrying transient errors with backoff and jitter.

    Safe because every write is idempotent on its natural key: a transaction that was rolled
    back by the drop is simply done again, and one that committed before the drop inserts
    nothing the second time.
    """
    settings = get_settings().storage
    attempt = 0
    while True:
        try:
            return fn()
        except (OperationalError, DBAPIError) as exc:
            if attempt >= settings.write_retries or not is_transient(exc):
                raise
            delay = settings.retry_delay_s * 2**attempt * (0.5 + random.random())
            attempt += 1
            log.warning(
                "database %s failed (%s); retry %d/%d in %.2fs",
                what,
                type(exc.orig or exc).__name__,
                attempt,
                settings.write_retries,
                delay,
            )
            time.sleep(delay)
