"""Scoring on the flow's task runner: each expert batch a Prefect task on a Dask worker.

The scoring logic (route, batch, combine) is ``experts.mixture.scoring.Scorer``; this module is the
``BatchRunner`` that submits its batches as ``score-batch`` tasks. Cross-encoder batches ask
for a ``GPU`` resource when a worker advertises one, and fall back to the CPU when no GPU
worker is left. Models never travel as task arguments: each worker builds its expert from a
per-process cache.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext

from experts.mixture.scoring import Batch, BatchRunner, InProcessRunner
from experts.mixture.scoring import score_batch as score_in_process
from tasks.common import data_task_options

logger = logging.getLogger(__name__)


@task(name="score-batch", persist_result=False, **{**data_task_options(), "cache_policy": NO_CACHE})
def score_batch(batch: Batch) -> np.ndarray:
    """One expert's probabilities [n, 3] on a batch of (claim, evidence) pairs."""
    return score_in_process(batch)


def runner_capacity(runner: object) -> tuple[int, int]:
    """(task slots, workers advertising a ``GPU`` resource) of a task runner: Dask worker
    threads from the scheduler, a thread pool's size (at most the CPU count), or (0, 0)
    in-process."""
    from prefect_dask import DaskTaskRunner

    if isinstance(runner, DaskTaskRunner):
        workers = runner.client.scheduler_info(n_workers=-1).get("workers", {}).values()
        slots = sum(int(w.get("nthreads", 1)) for w in workers)
        gpus = sum(1 for w in workers if w.get("resources", {}).get("GPU", 0) > 0)
        return max(slots, 1), gpus
    if runner is None:
        return 0, 0
    threads = int(getattr(runner, "_max_workers", 1) or 1)
    return max(1, min(threads, os.cpu_count() or 1)), 0


class TaskRunnerBatches:
    """A ``BatchRunner`` over the running flow's task runner."""

    def __init__(self, runner: object, gpu_poll_s: float) -> None:
        self.runner = runner
        self.gpu_poll_s = gpu_poll_s
        self._slots, self._gpus = runner_capacity(runner)

    def slots(self) -> int:
        return self._slots

    def gpus(self) -> int:
        return self._gpus

    def run(self, batches: Sequence[Batch]) -> list[np.ndarray]:
        submitted = [
            self._submit(b, bool(self._gpus) and b.kind == "cross_encoder") for b in batches
        ]
        return [self._gather(*s) for s in submitted]

    def _submit(self, batch: Batch, on_gpu: bool) -> tuple:
        if not on_gpu:
            return batch, score_batch.submit(batch), False
        import dask

        with dask.annotate(resources={"GPU": 1}):
            return batch, score_batch.submit(batch), True

    def _gather(self, batch: Batch, future, on_gpu: bool) -> np.ndarray:
        """A batch waiting for a GPU is resubmitted without the resource request once no
        worker advertises a GPU any more, so it never waits forever."""
        while on_gpu:
            try:
                return future.result(timeout=self.gpu_poll_s)
            except TimeoutError:
                if runner_capacity(self.runner)[1] == 0:
                    logger.warning("no GPU worker left: running %s batch on CPU", batch.expert)
                    future.wrapped_future.cancel()
                    future, on_gpu = score_batch.submit(batch), False
        return future.result()


def flow_batches() -> BatchRunner:
    """Batches on the running flow's task runner; in this process outside a flow."""
    from verdictflow.config import get_settings

    ctx = FlowRunContext.get()
    if ctx is None or ctx.task_runner is None:
        return InProcessRunner()
    return TaskRunnerBatches(ctx.task_runner, get_settings().experts.gpu_poll_s)


def score_claims(
    claims: list,
    evidence: dict,
    *,
    registry: str | None = None,
    top_k: int | None = None,
    claim_domains: dict[str, str] | None = None,
) -> tuple[list, dict]:
    """``Scorer(registry, top_k).score(...)`` on the running flow's task runner: the scores
    and the routing report."""
    from experts.mixture.scoring import Scorer

    result = Scorer(registry, top_k).score(claims, evidence, flow_batches(), claim_domains)
    return result.scores, result.report
