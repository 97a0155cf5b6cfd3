"""The micro-batcher: concurrent callers' batches scored in one pass, each caller gets its rows."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from experts.mixture.microbatch import MicroBatcher
from experts.mixture.scoring import Batch


class Recorder:
    """A scorer whose rows say which pair they are for; records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def __call__(self, batch: Batch) -> np.ndarray:
        with self.lock:
            self.calls.append((batch.expert, len(batch.pairs)))
        rows = np.zeros((len(batch.pairs), 3))
        rows[:, 0] = [float(claim.split()[-1]) for claim, _ in batch.pairs]
        rows[:, 1] = 1 - rows[:, 0]
        return rows


def _batches(caller: int, n: int) -> list[Batch]:
    pairs = [(f"claim {caller * 0.1 + i * 0.01:.2f}", "evidence") for i in range(n)]
    return [Batch("a", "cross_encoder", pairs, "r"), Batch("b", "numbers", pairs[:1], "r")]


def test_concurrent_callers_share_one_pass_per_expert_and_get_their_own_rows() -> None:
    scorer = Recorder()
    forwards: list[tuple[str, int, int]] = []
    batcher = MicroBatcher(
        wait_ms=5000, max_pairs=1000, score=scorer, on_forward=lambda *a: forwards.append(a)
    )
    callers = 4
    entered = threading.Barrier(callers)

    def one(caller: int) -> list[np.ndarray]:
        with batcher.caller():
            entered.wait()  # every caller is on its way before any queues its batches
            return batcher.run(_batches(caller, 3))

    started = time.monotonic()
    with ThreadPoolExecutor(callers) as pool:
        results = list(pool.map(one, range(callers)))
    batcher.close()
    # Once every caller had queued, nobody was left to wait for: no 5 s wait.
    assert time.monotonic() - started < 4
    assert sorted(scorer.calls) == [("a", 12), ("b", 4)]
    assert sorted(forwards) == [("a", 12, 4), ("b", 4, 4)]
    for caller, (rows_a, rows_b) in enumerate(results):
        expected = [caller * 0.1 + i * 0.01 for i in range(3)]
        assert rows_a[:, 0] == pytest.approx(expected)
        assert rows_b[:, 0] == pytest.approx(expected[:1])


def test_a_lone_caller_is_scored_at_once() -> None:
    scorer = Recorder()
    batcher = MicroBatcher(wait_ms=5000, score=scorer)
    started = time.monotonic()
    with batcher.caller():
        rows = batcher.run(_batches(1, 2))
    batcher.close()
    assert time.monotonic() - started < 2
    assert rows[0][:, 0] == pytest.approx([0.1, 0.11])


def test_max_pairs_starts_a_pass_without_waiting_for_the_rest() -> None:
    scorer = Recorder()
    batcher = MicroBatcher(wait_ms=5000, max_pairs=2, score=scorer)
    on_its_way, release = threading.Event(), threading.Event()

    def slow_caller() -> None:  # on its way, but queues nothing until released
        with batcher.caller():
            on_its_way.set()
            release.wait(10)

    thread = threading.Thread(target=slow_caller)
    thread.start()
    on_its_way.wait(10)
    started = time.monotonic()
    with batcher.caller():
        batcher.run(_batches(0, 3))  # 4 pairs >= max_pairs: no wait for the slow caller
    assert time.monotonic() - started < 2
    release.set()
    thread.join()
    batcher.close()


def test_a_failing_pass_reaches_every_caller_in_it() -> None:
    def broken(batch: Batch) -> np.ndarray:
        raise ValueError("expert a is broken")

    batcher = MicroBatcher(wait_ms=1, score=broken)
    with pytest.raises(ValueError, match="expert a is broken"):
        batcher.run(_batches(0, 1))
    # The scoring thread survives: the next caller is answered (with the same error).
    with pytest.raises(ValueError):
        batcher.run(_batches(1, 1))
    batcher.close()
