"""The verify pipeline's stage order, written once and free of Prefect.

read + record rules (the contracts) -> open the run -> per batch of items: split into claims
-> evidence -> gate + experts -> decide (calibrate, abstain) -> persist -> batch quality
(Great Expectations, once per run; not on the single-request path) -> close the run.

``verify_pipeline`` takes an ``Execution``: how each stage is run (the flow passes one that
runs every stage as a Prefect task and scores on the flow's Dask workers; small direct calls
pass ``Inline``, which calls each stage in this process). Both go through these lines, so
the flow and the fast path cannot drift apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel

from experts.fingerprint import verdicts_digest
from experts.mixture.scoring import BatchRunner, InProcessRunner, Scorer
from quality.outcome import run_status
from tasks import stages
from verdictflow.config import get_settings
from verdictflow.contracts import InputError, Item, ItemVerdict, gold_labels
from verdictflow.inputs import input_digest
from verdictflow.verdicts import code_version, group_items, run_key

if TYPE_CHECKING:  # the suites (pandas, Great Expectations) load only when a run uses them
    from quality.gates import EvidenceRows, GateOutcome

T = TypeVar("T")


class VerifyResult(BaseModel):
    """What a verify run returns."""

    run_id: str
    status: str
    verdicts: list[ItemVerdict]
    errors: list[InputError]
    counts: dict[str, Any]
    # Pairs each expert scored in this call (as the run's stored timings say, unread).
    routing: dict[str, int] = {}


class Execution(Protocol):
    """How the pipeline's stages run: the seam between the stage order and Prefect."""

    name: str
    batch_quality: bool  # run the Great Expectations suites over the run

    def run(self, stage: Callable[..., T], *args: Any) -> T:
        """Run one stage on its arguments."""
        ...

    def batches(self) -> BatchRunner:
        """Where the experts' batches are scored."""
        ...

    def progress(self, done: int, total: int) -> None:
        """Items done so far."""
        ...

    def finished(self, result: VerifyResult, outcomes: dict[str, GateOutcome]) -> None:
        """The run is stored: publish what it found (artifacts in a flow run)."""
        ...


# In-process listeners (the CLI's progress bar): called with (items done, items total).
progress_listeners: list[Callable[[int, int], None]] = []


class Inline:
    """Every stage called in this process: no flow or task runs, no artifacts.

    Args:
        runner: where the experts' batches are scored (the API's ``MicroBatcher``); None:
            here, one batch at a time.
        batch_quality: also run the Great Expectations suites over these items.
    """

    name = "inline"

    def __init__(self, runner: BatchRunner | None = None, batch_quality: bool = False) -> None:
        self.runner = runner or InProcessRunner()
        self.batch_quality = batch_quality

    def run(self, stage: Callable[..., T], *args: Any) -> T:
        return stage(*args)

    def batches(self) -> BatchRunner:
        return self.runner

    def progress(self, done: int, total: int) -> None:
        for listener in progress_listeners:
            listener(done, total)

    def finished(self, result: VerifyResult, outcomes: dict[str, GateOutcome]) -> None:
        return None


def run_parameters(parent_run_id: str | None = None) -> dict[str, Any]:
    """What changes a run's verdicts (part of its run id): the settings, and the digest of
    the experts, gate, combiner and calibrator in force (``experts.fingerprint``)."""
    settings = get_settings()
    return {
        "top_k": settings.retrieval.top_k,
        "search_mode": settings.retrieval.search_mode,
        "gate_top_k": settings.experts.gate_top_k,
        "alpha": settings.verify.alpha,
        "experts_digest": verdicts_digest(settings.experts.registry),
        "parent_run_id": parent_run_id,
    }


def verify_pipeline(
    execution: Execution,
    items: list[dict[str, Any]] | None = None,
    path: str | None = None,
    run_id: str | None = None,
    parent_run_id: str | None = None,
) -> VerifyResult:
    """Verify records (``{"id", "text", "context"?, ...}``) or a JSONL ``path``; store it all."""
    started = time.perf_counter()
    settings = get_settings()
    gates = settings.quality.enabled and execution.batch_quality
    valid, errors = execution.run(stages.read_items, path, items)
    outcomes: dict[str, GateOutcome] = {}
    parameters = run_parameters(parent_run_id)
    run_id = run_id or run_key(valid, parameters, input_digest(path, items))
    done = execution.run(stages.open_run, run_id, parameters, code_version(), valid, errors)

    try:
        evidence_rows, routing = _batches(execution, run_id, valid, done, gates)
    except BaseException:
        execution.run(stages.close_run, run_id, "failed", {"items": len(valid)}, _since(started))
        raise
    verdicts = execution.run(stages.load_verdicts, run_id)
    status = "completed" if valid else "failed"
    if gates:
        from quality.gates import check_batch, check_evidence_rows, check_outputs

        outcomes["evidence"] = execution.run(check_evidence_rows, evidence_rows)
        outcomes["outputs"] = execution.run(check_outputs, verdicts, [i.id for i in valid])
        outcomes["batch"] = execution.run(check_batch, verdicts, labels_of(valid))
        results = [r for outcome in outcomes.values() for r in outcome.results]
        execution.run(stages.save_quality, run_id, results)
        status = run_status(outcomes["batch"], status)
    counts = counts_of(valid, errors, verdicts)
    timings = {**_since(started), "execution": execution.name, "routing": routing}
    execution.run(stages.close_run, run_id, status, counts, timings)
    result = VerifyResult(
        run_id=run_id,
        status=status,
        verdicts=verdicts,
        errors=errors,
        counts=counts,
        routing=routing,
    )
    execution.finished(result, outcomes)
    return result


def _batches(
    execution: Execution, run_id: str, items: list[Item], done: set[str], gates: bool
) -> tuple[EvidenceRows | None, dict[str, int]]:
    """Claims -> evidence -> experts -> verdicts -> storage, one batch of items at a time.

    Returns what the evidence gate reads of this call's claims and evidence (``gates``; the
    evidence itself is not kept past its batch, so a long run's memory stays flat) and how
    many pairs each expert scored.
    """
    if gates:
        from quality.gates import EvidenceRows
    size = get_settings().verify.batch_items
    scorer = Scorer()
    runner = execution.batches()
    rows: list[EvidenceRows] = []
    routed: dict[str, int] = {}
    for start in range(0, len(items), size):
        claims = execution.run(stages.claims_of, items[start : start + size])
        claims = [c for c in claims if c.claim_id not in done]
        if claims:
            evidence = execution.run(stages.evidence_for, claims)
            scoring = scorer.score(claims, evidence, runner)
            decided = execution.run(stages.decide, claims, evidence, scoring.scores)
            verdicts = group_items(decided)
            execution.run(stages.persist_batch, run_id, claims, evidence, scoring.scores, verdicts)
            if gates:
                rows.append(EvidenceRows.of(claims, evidence))
            for name, n in scoring.report["routed"].items():
                routed[name] = routed.get(name, 0) + n
        execution.progress(min(len(items), start + size), len(items))
    return (EvidenceRows.concat(rows) if gates else None), routed


def labels_of(items: list[Item]) -> dict[str, str] | None:
    """Gold labels when every item carries one (``label`` in its metadata): a labelled run."""
    labels = gold_labels(items)
    return labels if items and len(labels) == len(items) else None


def _since(started: float) -> dict[str, float]:
    return {"total_s": round(time.perf_counter() - started, 3)}


def counts_of(valid: list[Item], errors: list[InputError], verdicts: list[ItemVerdict]) -> dict:
    """Items, input errors, claims and items per verdict label."""
    by_label: dict[str, int] = {}
    for verdict in verdicts:
        by_label[verdict.label.value] = by_label.get(verdict.label.value, 0) + 1
    return {
        "items": len(valid),
        "input_errors": len(errors),
        "claims": sum(len(v.claims) for v in verdicts),
        **by_label,
    }
