"""The verify entry for few records, free of Prefect: what ``verdictflow verify`` calls.

A direct call on at most ``verify.fast_path_max_items`` records, outside any Prefect run,
runs the pipeline in this process (``flows.pipeline.Inline``). That path never imports
Prefect, Dask or Great Expectations (over two seconds of a cold start, measured with
``python -X importtime``: ``benchmarks/e2e_speed.py``); anything larger is a run of the
``verify-items`` flow (``flows.verify``), imported only then.
"""

from __future__ import annotations

import hashlib
import sys
import uuid
from typing import Any

from flows.pipeline import Inline, VerifyResult, progress_listeners, verify_pipeline
from flows.run_warnings import with_warnings
from verdictflow.config import get_settings

__all__ = ["VerifyResult", "fast_path_applies", "progress_listeners", "verify_items"]


def in_prefect_run() -> bool:
    """Whether this code runs inside a Prefect flow or task run (a process that never
    imported Prefect runs in none, so Prefect is not imported to ask)."""
    if "prefect.context" not in sys.modules:
        return False
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def fast_path_applies(items: list | None = None, path: str | None = None) -> bool:
    """A direct call on few records (a list, or a JSONL file of few lines), outside any
    Prefect run."""
    limit = get_settings().verify.fast_path_max_items
    if limit <= 0 or in_prefect_run():
        return False
    if path is not None:
        return _lines_at_most(path, limit)
    return items is not None and len(items) <= limit


def _lines_at_most(path: str, limit: int) -> bool:
    """Whether the file has at most ``limit`` non-blank lines (reads no further)."""
    try:
        with open(path, "rb") as handle:
            count = 0
            for line in handle:
                count += bool(line.strip())
                if count > limit:
                    return False
    except OSError:
        return False  # the flow run reports the missing file
    return True


def fresh_run_id(seed: str | None = None) -> str:
    """A new run id for a re-run (the same input checked again), from ``seed`` (a flow
    run's id) or at random; without a re-run the id is the input's (``run_key``)."""
    return f"run-{hashlib.sha256((seed or uuid.uuid4().hex).encode()).hexdigest()[:16]}"


def verify_inline(
    items: list[dict[str, Any]] | None = None,
    path: str | None = None,
    run_id: str | None = None,
    parent_run_id: str | None = None,
    rerun: bool = False,
) -> VerifyResult:
    """The pipeline on records or a JSONL ``path`` in this process (``rerun``: a new run)."""
    run_id = run_id or (fresh_run_id() if rerun else None)
    return with_warnings(verify_pipeline(Inline(), items, path, run_id, parent_run_id))


def verify_items(
    items: list[dict[str, Any]] | None = None,
    path: str | None = None,
    run_id: str | None = None,
    parent_run_id: str | None = None,
    rerun: bool = False,
) -> VerifyResult:
    """``flows.verify.verify_items`` without importing Prefect when the fast path applies:
    in this process for a few records, else a run of the ``verify-items`` flow."""
    if fast_path_applies(items, path):
        return verify_inline(items, path, run_id, parent_run_id, rerun)
    from flows.verify import verify_items_flow

    return verify_items_flow(
        items=items, path=path, run_id=run_id, parent_run_id=parent_run_id, rerun=rerun
    )
