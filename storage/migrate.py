"""Alembic driven from code: the migrations live in ``storage/migrations`` inside the package."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from storage.engine import WRITE_OPTION
from storage.models import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant 64-bit number: the PostgreSQL advisory lock that serialises upgrades.
PG_MIGRATION_LOCK = 0x5645524449435446
# Alembic's context is process-global: one upgrade at a time per process.
_PROCESS_LOCK = threading.Lock()


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision in the packaged migrations."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> bool:
    """Upgrade the database to ``revision``; returns True if anything was migrated.

    Concurrent callers are serialised (an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE``
    on SQLite) and the revision is re-read under the lock, so it is safe to call on every run.
    """
    head = head_revision()
    if revision == "head" and current_revision(engine) == head:
        return False
    with _PROCESS_LOCK, engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_MIGRATION_LOCK})
            before = MigrationContext.configure(conn).get_current_revision()
            command.upgrade(alembic_config(connection=conn), revision)
            after = MigrationContext.configure(conn).get_current_revision()
    return before != after


def schema_diff(engine: Engine) -> list[Any]:
    """Differences between the database's schema and the models (empty when they match)."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)
