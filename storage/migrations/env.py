"""Alembic environment of verdictflow, driven from code by ``storage.migrate``.

The caller passes an open SQLAlchemy connection (inside a transaction that already holds
the migration lock) as ``config.attributes["connection"]``; offline (``--sql``) mode renders
the SQL for the URL in ``sqlalchemy.url``.
"""

from __future__ import annotations

from alembic import context

from storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    """Render the migrations as SQL for the configured URL."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the connection the caller opened."""
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("storage.migrate passes a connection; use Repository.upgrade()")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
