"""Group commit: the write transactions of concurrent threads committed as one.

The API scores concurrent requests' pairs in one forward pass (``MicroBatcher``); they then
reach storage together, each with its own few writes (open the run, the batch, close it, the
audit entry). With group commit on an engine, a thread that finds no write of that engine in
flight runs its own at once, so a lone caller never waits; writes that arrive while one is in
flight queue, and the next of their threads to go commits all the queued writes in one
transaction (one connection, one commit, instead of one each).

Every write stays its own: each gets its own return value, and when the shared transaction
fails (a bad row of one request), it is rolled back and each write runs again alone, so only
its caller hears of the error. Safe because every write of the repository is idempotent on its
natural key (``storage.repository``). ``Repository._write`` uses the engine's group when one is
on (``enable``); the API turns it on for its database (``api.group_writes``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Engine

from storage.engine import WRITE_OPTION, with_retries


@dataclass
class _Job:
    fn: Callable[[Connection], Any]
    what: str
    done: bool = False
    value: Any = None
    error: BaseException | None = None

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class GroupCommit:
    """Commits the queued writes of concurrent threads on ``engine`` together.

    Attributes:
        transactions: transactions committed (or tried) so far, and ``writes`` in them: the
            saving is ``writes - transactions``.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._busy = False
        self._local = threading.local()
        self.transactions = 0
        self.writes = 0

    def write(self, fn: Callable[[Connection], Any], what: str) -> Any:
        """Run ``fn`` in a write transaction, with whatever other threads queue meanwhile."""
        if getattr(self._local, "leading", False):  # a write inside a group's write: its own
            return with_retries(lambda: self._transaction([fn])[0], what)
        job = _Job(fn, what)
        with self._cond:
            self._queue.append(job)
            while self._busy and not job.done:
                self._cond.wait()
            if job.done:
                return job.result()
            jobs, self._queue = self._queue, []
            self._busy = True
        self._local.leading = True
        try:
            self._commit(jobs)
        finally:
            self._local.leading = False
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        return job.result()

    def _transaction(self, fns: list[Callable[[Connection], Any]]) -> list[Any]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                values = [fn(conn) for fn in fns]
        self.transactions += 1
        self.writes += len(fns)
        return values

    def _commit(self, jobs: list[_Job]) -> None:
        if len(jobs) > 1:
            what = "+".join(dict.fromkeys(job.what for job in jobs))
            try:
                values = with_retries(lambda: self._transaction([j.fn for j in jobs]), what)
            except Exception:  # one write failed: each alone, so that only its caller hears
                pass
            else:
                for job, value in zip(jobs, values, strict=True):
                    job.value, job.done = value, True
                return
        for job in jobs:
            try:
                job.value = with_retries(lambda job=job: self._transaction([job.fn])[0], job.what)
            except BaseException as exc:  # handed to the caller of this write
                job.error = exc
            job.done = True


_groups: weakref.WeakKeyDictionary[Engine, GroupCommit] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def enable(engine: Engine) -> GroupCommit:
    """Group the writes on ``engine`` from now on (idempotent); returns its group."""
    with _lock:
        group = _groups.get(engine)
        if group is None:
            group = _groups[engine] = GroupCommit(engine)
        return group


def disable(engine: Engine) -> None:
    """Each write on ``engine`` its own transaction again (writes in flight finish first)."""
    with _lock:
        _groups.pop(engine, None)


def group_of(engine: Engine) -> GroupCommit | None:
    """The group of ``engine`` when group commit is on for it."""
    return _groups.get(engine)
