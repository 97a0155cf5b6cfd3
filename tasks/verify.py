"""The verify stages as Prefect tasks: each wraps one function of ``tasks.stages`` (or a
quality gate), and ``as_task`` finds the task of a stage for the flow's ``Execution``.
The run's artifacts are in ``tasks.artifacts``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import task

from quality.gates import check_batch, check_evidence_rows, check_outputs
from tasks import stages
from tasks.common import data_task_options
from tasks.quality import validate_batch, validate_evidence, validate_outputs

_HEAVY = data_task_options()

read_items = task(name="read-items", **_HEAVY)(stages.read_items)
split_claims_task = task(name="split-claims", **_HEAVY)(stages.claims_of)
gather_evidence_task = task(name="gather-evidence", **_HEAVY)(stages.evidence_for)
decide_task = task(name="decide-verdicts", **_HEAVY)(stages.decide)
open_run = task(name="open-run", **_HEAVY)(stages.open_run)
persist_batch = task(name="persist-batch", **_HEAVY)(stages.persist_batch)
load_verdicts = task(name="load-verdicts", **_HEAVY)(stages.load_verdicts)
save_quality = task(name="save-quality", **_HEAVY)(stages.save_quality)
close_run = task(name="close-run", **_HEAVY)(stages.close_run)

# Stage -> its Prefect task.
TASKS: dict[Callable[..., Any], Any] = {
    stages.read_items: read_items,
    stages.claims_of: split_claims_task,
    stages.evidence_for: gather_evidence_task,
    stages.decide: decide_task,
    stages.open_run: open_run,
    stages.persist_batch: persist_batch,
    stages.load_verdicts: load_verdicts,
    stages.save_quality: save_quality,
    stages.close_run: close_run,
    check_evidence_rows: validate_evidence,
    check_outputs: validate_outputs,
    check_batch: validate_batch,
}


def as_task(stage: Callable[..., Any], *args: Any) -> Any:
    """Run ``stage`` as its Prefect task (in the running flow)."""
    return TASKS[stage](*args)
