"""Dynamic micro-batching: concurrent callers' expert batches scored in one forward pass.

A ``MicroBatcher`` is a ``BatchRunner`` that many threads share (the API's request threads).
Each caller's ``run`` queues its batches and waits; one scoring thread takes the first
waiting job, gathers the jobs that arrive within ``wait_ms`` (while other callers are still
on their way: ``caller()`` counts them) up to ``max_pairs`` pairs, merges the pairs of each
expert into one batch, scores it once and hands every caller its own rows back. A lone
caller never waits: with nobody else in flight there is nothing to wait for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from experts.mixture.scoring import Batch, score_batch

# Called after each merged forward pass with (expert, pairs, callers in it).
ForwardHook = Callable[[str, int, int], None]


@dataclass
class _Job:
    batches: Sequence[Batch]
    future: Future = field(default_factory=Future)

    @property
    def pairs(self) -> int:
        return sum(len(b.pairs) for b in self.batches)


class MicroBatcher:
    """Scores the batches of concurrent callers together.

    Args:
        wait_ms: how long the scoring thread waits for other callers' batches.
        max_pairs: most pairs gathered before scoring starts.
        score: scores one batch (``score_batch``: the per-process model cache).
        on_forward: told of every merged forward pass (metrics).
    """

    def __init__(
        self,
        wait_ms: float = 10.0,
        max_pairs: int = 256,
        score: Callable[[Batch], np.ndarray] = score_batch,
        on_forward: ForwardHook | None = None,
    ) -> None:
        self.wait_s = wait_ms / 1000
        self.max_pairs = max_pairs
        self._score = score
        self._on_forward = on_forward
        self._pending: list[_Job] = []
        self._coming = 0  # callers in flight whose batches are not queued yet
        self._closed = False
        self._local = threading.local()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="micro-batcher", daemon=True)
        self._thread.start()

    # The BatchRunner protocol: in this process, no task slots, no GPU workers.
    def slots(self) -> int:
        return 0

    def gpus(self) -> int:
        return 0

    def run(self, batches: Sequence[Batch]) -> list[np.ndarray]:
        """Score ``batches`` together with whatever other callers queue meanwhile."""
        job = _Job(batches)
        with self._cond:
            if self._closed:
                raise RuntimeError("the micro-batcher is closed")
            self._arrived()
            if not batches:
                return []
            self._pending.append(job)
            self._cond.notify_all()
        return job.future.result()

    @contextmanager
    def caller(self) -> Iterator[None]:
        """Mark a caller on its way (from its first stage until its batches are queued), so
        that the scoring thread waits for its batches rather than scoring without them."""
        with self._cond:
            self._coming += 1
            self._local.coming = True
        try:
            yield
        finally:
            with self._cond:
                self._arrived()
                self._cond.notify_all()

    def _arrived(self) -> None:
        """This thread's caller has queued its batches (or has none): hold the lock."""
        if getattr(self._local, "coming", False):
            self._local.coming = False
            self._coming -= 1

    def depth(self) -> int:
        """Jobs waiting to be scored."""
        return len(self._pending)

    def close(self) -> None:
        """Stop the scoring thread once the queued jobs are done."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=30)

    def _gather(self) -> list[_Job]:
        """The jobs of one merge: the first waiting, and those that come within the wait
        while callers are on their way; empty when closed with nothing left."""
        with self._cond:
            self._cond.wait_for(lambda: self._pending or self._closed)
            if not self._pending:
                return []
            jobs = [self._pending.pop(0)]
            pairs = jobs[0].pairs
            deadline = time.monotonic() + self.wait_s
            while pairs < self.max_pairs:
                if self._pending:
                    jobs.append(self._pending.pop(0))
                    pairs += jobs[-1].pairs
                    continue
                remaining = deadline - time.monotonic()
                if self._coming <= 0 or remaining <= 0 or self._closed:
                    break
                self._cond.wait(remaining)
            return jobs

    def _loop(self) -> None:
        while jobs := self._gather():
            try:
                self._merged(jobs)
            except BaseException as exc:  # every caller of the merge hears of it
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)

    def _merged(self, jobs: list[_Job]) -> None:
        """One forward pass per expert over every job's batches of that expert."""
        groups: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
        for j, job in enumerate(jobs):
            for b, batch in enumerate(job.batches):
                groups.setdefault((batch.expert, batch.kind, batch.registry), []).append((j, b))
        results: list[list[np.ndarray | None]] = [[None] * len(job.batches) for job in jobs]
        for (expert, kind, registry), members in groups.items():
            parts = [jobs[j].batches[b].pairs for j, b in members]
            probs = self._score(Batch(expert, kind, [p for part in parts for p in part], registry))
            start = 0
            for (j, b), part in zip(members, parts, strict=True):
                results[j][b] = probs[start : start + len(part)]
                start += len(part)
            if self._on_forward is not None:
                self._on_forward(expert, start, len({j for j, _ in members}))
        for job, rows in zip(jobs, results, strict=True):
            job.future.set_result(rows)
