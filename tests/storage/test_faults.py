"""Dropped connections and concurrent writers: retried, nothing lost, nothing doubled."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from storage.repository import Repository
from tests.storage.conftest import make_scores, make_verdicts
from verdictflow.config import get_settings


@pytest.fixture
def pg_repo(pg_url: str) -> Iterator[Repository]:
    repository = Repository(pg_url)
    repository.upgrade()
    yield repository
    repository.dispose()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short retry delays, and 500-row batches so a write spans several statements."""
    storage = get_settings().storage
    monkeypatch.setattr(storage, "retry_delay_s", 0.05)
    monkeypatch.setattr(storage, "batch_size", 500)


def _terminate(pg_url: str, pid: int) -> bool:
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            # The second argument waits (ms) until the backend is really gone.
            return conn.execute(
                sa.text("SELECT pg_terminate_backend(:p, 5000)"), {"p": pid}
            ).scalar()
    finally:
        admin.dispose()


def _pooled_backend_pid(repo: Repository) -> int:
    with repo.engine.connect() as conn:
        return conn.connection.dbapi_connection.info.backend_pid


def test_connection_killed_between_calls(pg_repo: Repository, pg_url: str, run_id: str) -> None:
    verdicts = make_verdicts(20)
    assert pg_repo.save_verdicts(run_id, verdicts[:10]) == 10 + 20
    # The pooled connection dies between calls (server restart, network blip).
    assert _terminate(pg_url, _pooled_backend_pid(pg_repo))
    assert pg_repo.save_verdicts(run_id, verdicts) == 10 + 20
    assert pg_repo.load_item_verdicts(run_id) == sorted(verdicts, key=lambda v: v.item_id)


@pytest.mark.parametrize(
    ("path", "hook", "marker", "nth"),
    [
        # Multi-row INSERT batches: killed before the third batch of twelve.
        ("insert", "before_cursor_execute", "INSERT INTO expert_scores", 3),
        # COPY path: killed right after staging starts, so the COPY itself hits a dead line.
        ("copy", "after_cursor_execute", "TRUNCATE", 1),
        # COPY path: killed after the COPY, before the final INSERT ... SELECT.
        ("copy", "before_cursor_execute", "INSERT INTO expert_scores", 1),
    ],
)
def test_connection_killed_mid_write_is_retried_without_duplicates(
    pg_repo: Repository,
    pg_url: str,
    run_id: str,
    fast_retries: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    path: str,
    hook: str,
    marker: str,
    nth: int,
) -> None:
    monkeypatch.setattr(get_settings().storage, "copy_min_rows", 10**9 if path == "insert" else 1)
    scores = make_scores(400, experts=3, chunks=5)  # 6,000 rows
    seen: list[str] = []
    killed: list[int] = []

    def kill(conn, cursor, statement, *_args) -> None:
        if marker not in statement:
            return
        seen.append(statement)
        if len(seen) == nth and not killed:
            pid = conn.connection.dbapi_connection.info.backend_pid
            killed.append(pid)
            assert _terminate(pg_url, pid)

    event.listen(pg_repo.engine, hook, kill)
    with caplog.at_level(logging.WARNING, logger="storage.engine"):
        inserted = pg_repo.save_expert_scores(run_id, scores)
    event.remove(pg_repo.engine, hook, kill)
    assert killed, "the connection was never killed"
    assert any("retry 1/" in r.getMessage() for r in caplog.records)
    assert inserted == 6000  # the killed transaction was rolled back, all of it redone
    with pg_repo.engine.connect() as conn:
        n, distinct = conn.execute(
            sa.text(
                "SELECT count(*), count(DISTINCT (claim_id, expert, chunk_id)) "
                "FROM expert_scores WHERE run_id = :r"
            ),
            {"r": run_id},
        ).one()
    assert n == distinct == 6000
    assert pg_repo.save_expert_scores(run_id, scores) == 0


def test_retries_give_up_on_a_dead_server(
    run_id: str, fast_retries: None, caplog: pytest.LogCaptureFixture
) -> None:
    dead = Repository("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    retries = get_settings().storage.write_retries
    try:
        with caplog.at_level("WARNING"), pytest.raises(sa.exc.OperationalError):
            dead.start_run(run_id, "verify", {}, "v")
    finally:
        dead.dispose()
    # Every retry was made (a refused connection is transient), then it gave up.
    tries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(tries) == retries >= 1
    assert f"retry {retries}/{retries}" in tries[-1]


def test_concurrent_writers(db_url: str, run_id: str) -> None:
    repos = [Repository(db_url) for _ in range(4)]
    repos[0].upgrade()
    scores = make_scores(300, experts=2, chunks=5)  # 3,000 rows per writer

    def write(i: int) -> int:
        # Each writer writes its own run and a shared one: overlap must not double.
        own = repos[i].save_expert_scores(f"{run_id}-{i}", scores)
        shared = repos[i].save_expert_scores(f"{run_id}-shared", scores)
        return own + shared

    try:
        with ThreadPoolExecutor(len(repos)) as pool:
            totals = list(pool.map(write, range(len(repos))))
        assert sum(totals) == 4 * 3000 + 3000
        with repos[0].engine.connect() as conn:
            n = conn.execute(
                sa.text("SELECT count(*) FROM expert_scores WHERE run_id LIKE :p"),
                {"p": f"{run_id}-%"},
            ).scalar()
        assert n == 5 * 3000
    finally:
        for r in repos:
            r.dispose()
