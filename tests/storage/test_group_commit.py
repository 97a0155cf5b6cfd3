"""Group commit: concurrent threads' writes share a transaction, each keeps its own result
and its own error, and a lone write is committed at once (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from storage import group_commit, rows, writes
from storage.models import claims_t
from storage.repository import Repository
from tests.storage.conftest import make_verdicts
from verdictflow.contracts import Claim, Item


@pytest.fixture
def grouped(repo: Repository) -> Iterator[group_commit.GroupCommit]:
    group = group_commit.enable(repo.engine)
    yield group
    group_commit.disable(repo.engine)


def _claim(item: str) -> Claim:
    return Claim(item_id=item, claim_id=f"{item}#0", index=0, text="c", start=0, end=1)


def _wait_for(predicate, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _hold_the_group(repo: Repository, release: threading.Event) -> threading.Thread:
    """A write in flight until ``release``: the writes that come meanwhile queue."""
    entered = threading.Event()

    def slow(conn) -> int:
        entered.set()
        release.wait(30)
        return writes.insert_ignore(conn, claims_t, [])

    thread = threading.Thread(target=repo._write, args=(slow, "slow"))
    thread.start()
    entered.wait(30)
    return thread


def _queued_then_released(
    grouped: group_commit.GroupCommit,
    holder: threading.Thread,
    release: threading.Event,
    threads: list[threading.Thread],
) -> None:
    """Start ``threads`` while ``holder``'s write is in flight, wait until all of their
    writes queue behind it, then let it finish and join every thread."""
    for thread in threads:
        thread.start()
    _wait_for(lambda: len(grouped._queue) == len(threads))
    release.set()
    for thread in [holder, *threads]:
        thread.join(30)


def test_a_lone_write_is_its_own_transaction(
    repo: Repository, grouped: group_commit.GroupCommit, run_id: str
) -> None:
    assert repo.start_run(run_id, "verify", {}, "v") is True
    assert repo.save_items(run_id, [Item(id="a", text="t")]) == 1
    assert (grouped.transactions, grouped.writes) == (2, 2)


def test_concurrent_writes_share_one_transaction_and_keep_their_results(
    repo: Repository, grouped: group_commit.GroupCommit, run_id: str
) -> None:
    verdicts = make_verdicts(4, claims_per_item=1, evidence_per_claim=1, seed=2)
    release = threading.Event()
    holder = _hold_the_group(repo, release)
    results: dict[int, int] = {}

    def save(i: int) -> None:
        results[i] = repo.save_verdicts(f"{run_id}-{i}", verdicts[i : i + 1])

    threads = [threading.Thread(target=save, args=(i,)) for i in range(4)]
    _queued_then_released(grouped, holder, release, threads)
    assert results == dict.fromkeys(range(4), 2)  # an item verdict and a claim verdict each
    assert (grouped.transactions, grouped.writes) == (2, 5)  # the slow one, then the four
    for i in range(4):
        assert repo.load_item_verdicts(f"{run_id}-{i}") == verdicts[i : i + 1]


def test_a_failing_write_fails_alone(
    repo: Repository, grouped: group_commit.GroupCommit, run_id: str
) -> None:
    release = threading.Event()
    holder = _hold_the_group(repo, release)
    outcome: dict[str, object] = {}

    def bad(conn) -> int:
        writes.insert_ignore(conn, claims_t, [rows.claim_row(run_id, _claim("bad"))])
        raise ValueError("bad row")

    def call(name: str, fn) -> None:
        try:
            outcome[name] = fn()
        except ValueError as exc:
            outcome[name] = exc

    threads = [
        threading.Thread(
            target=call, args=("good", lambda: repo.save_claims(run_id, [_claim("g")]))
        ),
        threading.Thread(target=call, args=("bad", lambda: repo._write(bad, "bad"))),
        threading.Thread(
            target=call, args=("also", lambda: repo.save_claims(run_id, [_claim("h")]))
        ),
    ]
    _queued_then_released(grouped, holder, release, threads)
    assert outcome["good"] == 1 and outcome["also"] == 1
    assert isinstance(outcome["bad"], ValueError)
    stored = {row["claim_id"] for row in _claims_of(repo, run_id)}
    assert stored == {"g#0", "h#0"}  # the bad write's row was rolled back with it


def test_a_write_inside_a_write_does_not_wait_for_itself(
    repo: Repository, grouped: group_commit.GroupCommit, run_id: str
) -> None:
    if repo.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer: a second transaction inside a write waits on it")

    def outer(conn) -> int:
        return repo.save_claims(run_id, [_claim("inner")]) + 1

    done = threading.Thread(target=repo._write, args=(outer, "outer"))
    done.start()
    done.join(30)
    assert not done.is_alive()
    assert [row["claim_id"] for row in _claims_of(repo, run_id)] == ["inner#0"]


def _claims_of(repo: Repository, run_id: str) -> list[dict]:
    import sqlalchemy as sa

    with repo.engine.connect() as conn:
        found = conn.execute(sa.select(claims_t).where(claims_t.c.run_id == run_id)).all()
    return [dict(r._mapping) for r in found]
