"""The verify flow and the Python entry ``verify_items``.

The stage order lives in ``flows/pipeline.py``. The flow ``verify_items_flow`` runs it with
every stage as a Prefect task and the experts' batches on the flow's Dask workers, with a
progress artifact, a verdict table and the quality report. ``verify_items`` is the entry
users call: a direct call with at most ``verify.fast_path_max_items`` records, outside any
flow run, runs the same pipeline in this process (no flow or task runs, no artifacts; the
run is stored as usual), since a Prefect flow run costs far more than the work on one item
(benchmarks/results/bench.md). Anything larger is a flow run.
"""

from __future__ import annotations

from typing import Any

from prefect import Flow, flow
from prefect.context import FlowRunContext

from flows.fast_path import fast_path_applies, fresh_run_id, verify_inline
from flows.pipeline import (
    Inline,
    VerifyResult,
    progress_listeners,
    verify_pipeline,
)
from flows.run_warnings import with_warnings
from flows.runtime import task_runner
from quality.gates import GateOutcome
from tasks.artifacts import RunProgress, summary_artifact
from tasks.quality import quality_report
from tasks.scoring import flow_batches
from tasks.verify import as_task

__all__ = [
    "VerifyResult",
    "fast_path_applies",
    "fresh_run_id",
    "progress_listeners",
    "verify_items",
    "verify_items_flow",
]


class InFlow:
    """Every stage a Prefect task of the running flow; batches on its task runner."""

    name = "flow"
    batch_quality = True

    def __init__(self, what: str) -> None:
        self._progress = RunProgress(what)

    def run(self, stage, *args):
        return as_task(stage, *args)

    def batches(self):
        return flow_batches()

    def progress(self, done: int, total: int) -> None:
        self._progress.update(done, total)
        Inline().progress(done, total)

    def finished(self, result: VerifyResult, outcomes: dict[str, GateOutcome]) -> None:
        if outcomes:
            quality_report(outcomes)
        summary_artifact(result.run_id, result.verdicts, result.counts)
        self._progress.finish(result.counts, result.run_id)


@flow(name="verify-items", task_runner=task_runner(), log_prints=True)
def verify_items_flow(
    items: list[dict[str, Any]] | None = None,
    path: str | None = None,
    run_id: str | None = None,
    parent_run_id: str | None = None,
    rerun: bool = False,
) -> VerifyResult:
    """Verify items given as records (``{"id", "text", "context"?, ...}``) or a JSONL ``path``.

    The same input checked by the same experts is the same run (its stored verdicts come
    back); ``rerun`` checks it again as a new run."""
    execution = InFlow(f"verify {path}" if path else "verify")
    if rerun and run_id is None:  # a retry of this flow run resumes the same run
        run_id = fresh_run_id(str(FlowRunContext.get().flow_run.id))
    return with_warnings(verify_pipeline(execution, items, path, run_id, parent_run_id))


def _entry(flow_: Flow):
    def verify_items(
        items: list[dict[str, Any]] | None = None,
        path: str | None = None,
        run_id: str | None = None,
        parent_run_id: str | None = None,
        rerun: bool = False,
    ) -> VerifyResult:
        """Verify records or a JSONL ``path``: in this process for a few records, else as a
        run of the ``verify-items`` flow (``rerun``: a new run even when nothing changed).
        ``verify_items.with_options(...)`` sets the flow's options (a task runner, a name)
        and keeps the fast path."""
        if fast_path_applies(items, path):
            return verify_inline(items, path, run_id, parent_run_id, rerun)
        return flow_(
            items=items, path=path, run_id=run_id, parent_run_id=parent_run_id, rerun=rerun
        )

    verify_items.with_options = lambda **options: _entry(flow_.with_options(**options))
    verify_items.flow = flow_
    return verify_items


verify_items = _entry(verify_items_flow)
