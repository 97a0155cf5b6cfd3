"""Write/read throughput of the repository (not a test): ``python -m tests.storage.bench_writes``.

Runs on a throw-away SQLite file and a throw-away PostgreSQL database and prints rows/s for
expert scores (80k rows), a no-op re-run of them, verdicts and loading verdicts back.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid

import sqlalchemy as sa

from storage.repository import Repository
from tests.storage.conftest import make_scores, make_verdicts

PG_ADMIN_URL = os.environ.get(
    "VERDICTFLOW_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def bench(url: str) -> None:
    repo = Repository(url)
    repo.upgrade()
    scores, verdicts = make_scores(4000, 4, 5), make_verdicts(2000, 3, 3)
    timed = [
        ("expert_scores 80k", lambda: repo.save_expert_scores("bench", scores)),
        ("expert_scores re-run", lambda: repo.save_expert_scores("bench", scores)),
        ("verdicts 2k items", lambda: repo.save_verdicts("bench", verdicts)),
        ("load_item_verdicts", lambda: len(repo.load_item_verdicts("bench"))),
    ]
    for name, fn in timed:
        t = time.perf_counter()
        n = fn()
        dt = time.perf_counter() - t
        print(f"{repo.engine.dialect.name:10s} {name:22s} {n:>6} rows  {dt:6.2f} s")
    repo.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench(f"sqlite:///{tmp}/bench.db")
    name = f"verdictflow_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        bench(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
