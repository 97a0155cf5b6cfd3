"""The verify flow: items in, a calibrated verdict per claim and per item out, all stored.

validate inputs -> split into claims -> evidence -> gate + experts (Dask) -> calibrate + abstain
-> validate outputs -> persist -> artifacts. Items are processed in batches; each batch is
persisted when done, so a run that dies halfway resumes where it stopped when run again.

Fast path: a direct Python call with at most ``verify.fast_path_max_items`` records, outside any
flow run, runs the same stages in this process without Prefect orchestration (no flow or task
runs, no artifacts; the run is stored as usual). A Prefect flow run with its tasks costs far
more than the work on one item: see benchmarks/results/bench.md.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from prefect import Flow, flow
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.context import FlowRunContext, TaskRunContext
from pydantic import BaseModel

from flows.runtime import task_runner
from quality.gate_worker import run_gate
from quality.gates import (
    GateOutcome,
    check_batch,
    check_evidence,
    check_inputs,
    check_output_claims,
    check_output_items,
)
from quality.outcome import run_status
from tasks.quality import validate_batch, validate_evidence, validate_inputs, validate_outputs
from tasks.scoring import score_claims
from tasks.verify import (
    close_run,
    decide_task,
    gather_evidence_task,
    load_verdicts,
    open_run,
    persist_batch,
    quarantine,
    read_items,
    save_quality,
    split_claims_task,
    summary_artifact,
)
from verdictflow.config import get_settings
from verdictflow.contracts import Claim, Evidence, InputError, Item, ItemVerdict
from verdictflow.verdicts import code_version, group_items, run_key


class VerifyResult(BaseModel):
    """What a verify run returns."""

    run_id: str
    status: str
    verdicts: list[ItemVerdict]
    errors: list[InputError]
    counts: dict[str, Any]


def _parameters() -> dict[str, Any]:
    settings = get_settings()
    return {
        "top_k": settings.retrieval.top_k,
        "search_mode": settings.retrieval.search_mode,
        "gate_top_k": settings.experts.gate_top_k,
        "alpha": settings.verify.alpha,
    }


@flow(name="verify-items", task_runner=task_runner(), log_prints=True)
def verify_items(
    items: list[dict[str, Any]] | None = None,
    path: str | None = None,
    run_id: str | None = None,
    parent_run_id: str | None = None,
) -> VerifyResult:
    """Verify items given as records (``{"id", "text", "context"?, ...}``) or a JSONL ``path``."""
    started = time.perf_counter()
    settings = get_settings()
    gates = settings.quality.enabled
    valid, errors = read_items(path, items)
    if gates:
        inputs_gate = validate_inputs(valid)
        valid, errors = quarantine(valid, errors, inputs_gate)
    parameters = {**_parameters(), "parent_run_id": parent_run_id}
    run_id = run_id or run_key(valid, parameters)
    done = open_run(run_id, parameters, code_version(), valid, errors)

    try:
        claims, evidence = _verify_batches(run_id, valid, done, settings.verify.batch_items)
    except BaseException:
        close_run(run_id, "failed", {"items": len(valid)}, _elapsed(started))
        raise
    verdicts = load_verdicts(run_id)
    status = "completed" if valid else "failed"
    if gates:
        outcomes = {
            "inputs": inputs_gate,
            "evidence": validate_evidence(claims, evidence),
            "outputs": validate_outputs(verdicts, [i.id for i in valid]),
            "batch": validate_batch(verdicts, _labels(valid)),
        }
        save_quality(run_id, outcomes)
        status = run_status(outcomes["batch"], status)
    counts = _counts(valid, errors, verdicts)
    close_run(run_id, status, counts, _elapsed(started))
    summary_artifact(run_id, verdicts, counts)
    return VerifyResult(
        run_id=run_id, status=status, verdicts=verdicts, errors=errors, counts=counts
    )


class FastPathFlow(Flow):
    """A flow whose small direct calls run ``fast`` in-process instead of a flow run."""

    fast: Callable[..., Any]

    @classmethod
    def wrap(cls, base: Flow, fast: Callable[..., Any]) -> FastPathFlow:
        new = cls.__new__(cls)
        new.__dict__.update(base.__dict__)
        new.fast = fast
        return new

    def __call__(self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs):
        if not (args or return_state or wait_for) and _fast_path_applies(**kwargs):
            return self.fast(**kwargs)
        return super().__call__(*args, return_state=return_state, wait_for=wait_for, **kwargs)


def _fast_path_applies(items: list | None = None, path: str | None = None, **_: Any) -> bool:
    limit = get_settings().verify.fast_path_max_items
    inside_prefect = FlowRunContext.get() is not None or TaskRunContext.get() is not None
    return path is None and items is not None and len(items) <= limit and not inside_prefect


def verify_inline(
    items: list[dict[str, Any]] | None = None,
    path: str | None = None,
    run_id: str | None = None,
    parent_run_id: str | None = None,
) -> VerifyResult:
    """The verify flow's stages, one for one, in this process without Prefect (keep the two
    in step): no flow or task runs, no artifacts; storage and quality gates as in the flow.

    The gates run in the warm gate worker (``quality/gate_worker.py``) while this process
    works: the parsed items (parsing already bounds every record) are split and searched while
    the inputs gate runs, and the claims of items it holds back are dropped before scoring.
    """
    started = time.perf_counter()
    gates = get_settings().quality.enabled
    valid, errors = read_items.fn(path, items)
    pending: list[Any] = []  # gate calls in flight; each is waited for, whatever happens
    try:
        if gates:
            pending.append(inputs_call := run_gate(check_inputs, valid))
        claims = split_claims_task.fn(valid)
        evidence = gather_evidence_task.fn(claims) if claims else {}
        if gates:
            inputs_gate = inputs_call.result()
            valid, errors = quarantine(valid, errors, inputs_gate)
        parameters = {**_parameters(), "parent_run_id": parent_run_id}
        run_id = run_id or run_key(valid, parameters)
        done = open_run.fn(run_id, parameters, code_version(), valid, errors)
        kept = {item.id for item in valid}
        claims = [c for c in claims if c.item_id in kept and c.claim_id not in done]
        evidence = {c.claim_id: evidence[c.claim_id] for c in claims}
        if gates:
            pending.append(evidence_call := run_gate(check_evidence, claims, evidence))
        try:
            if claims:
                scores, _routing = score_claims(claims, evidence)
                verdicts = group_items(decide_task.fn(claims, evidence, scores))
                persist_batch.fn(run_id, claims, evidence, scores, verdicts)
        except BaseException:
            close_run.fn(run_id, "failed", {"items": len(valid)}, _elapsed(started))
            raise
        verdicts = load_verdicts.fn(run_id)
        status = "completed" if valid else "failed"
        if gates:
            outcomes = {"inputs": inputs_gate, "evidence": evidence_call.result()}
            # The outputs gate's halves side by side: claims in the worker, items here.
            pending.append(claims_call := run_gate(check_output_claims, verdicts))
            items_part = check_output_items(verdicts, [i.id for i in valid])
            batch = check_batch(verdicts, _labels(valid))
            outcomes["outputs"] = GateOutcome.merged(claims_call.result(), items_part)
            outcomes["batch"] = batch
            save_quality.fn(run_id, outcomes, artifact=False)
            status = run_status(outcomes["batch"], status)
    finally:
        for call in pending:  # a worker call left unread would block the next request
            with contextlib.suppress(Exception):
                call.result()
    counts = _counts(valid, errors, verdicts)
    close_run.fn(run_id, status, counts, {**_elapsed(started), "fast_path": True})
    return VerifyResult(
        run_id=run_id, status=status, verdicts=verdicts, errors=errors, counts=counts
    )


verify_items = FastPathFlow.wrap(verify_items, verify_inline)


def _verify_batches(
    run_id: str, items: list[Item], done: set[str], batch_size: int
) -> tuple[list[Claim], dict[str, list[Evidence]]]:
    """Claims -> evidence -> experts -> verdicts -> storage, one batch of items at a time.

    Returns the claims checked by this call and their evidence (for the evidence gate).
    """
    progress = create_progress_artifact(progress=0.0, description=f"verify {run_id}")
    all_claims: list[Claim] = []
    all_evidence: dict[str, list[Evidence]] = {}
    for start in range(0, len(items), batch_size):
        claims = split_claims_task(items[start : start + batch_size])
        claims = [c for c in claims if c.claim_id not in done]
        if claims:
            evidence = gather_evidence_task(claims)
            scores, _routing = score_claims(claims, evidence)
            verdicts = group_items(decide_task(claims, evidence, scores))
            persist_batch(run_id, claims, evidence, scores, verdicts)
            all_claims.extend(claims)
            all_evidence.update(evidence)
        report_progress(progress, min(len(items), start + batch_size), len(items))
    return all_claims, all_evidence


def _labels(items: list[Item]) -> dict[str, str] | None:
    """Gold labels when every item carries one (``label`` in its metadata): a labelled run."""
    labels = {i.id: i.metadata["label"] for i in items if "label" in i.metadata}
    return labels if items and len(labels) == len(items) else None


def _elapsed(started: float) -> dict[str, float]:
    return {"total_s": round(time.perf_counter() - started, 3)}


# In-process listeners (the CLI's progress bar): called with (items done, items total).
progress_listeners: list[Callable[[int, int], None]] = []


def report_progress(artifact_id: Any, done: int, total: int) -> None:
    """Update the run's progress artifact and any in-process listener."""
    update_progress_artifact(artifact_id, 100.0 * done / max(total, 1))
    for listener in progress_listeners:
        listener(done, total)


def _counts(valid: list[Item], errors: list[InputError], verdicts: list[ItemVerdict]) -> dict:
    by_label: dict[str, int] = {}
    for verdict in verdicts:
        by_label[verdict.label.value] = by_label.get(verdict.label.value, 0) + 1
    return {
        "items": len(valid),
        "input_errors": len(errors),
        "claims": sum(len(v.claims) for v in verdicts),
        **by_label,
    }
