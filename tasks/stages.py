"""The verify stages as plain functions, without Prefect.

``flows/pipeline.py`` runs them in order; ``tasks/verify.py`` wraps each one as a Prefect
task for the flow. Each takes and returns the contracts of ``verdictflow.contracts``.
"""

from __future__ import annotations

import sys

from experts.decision.decide import decide_claims
from experts.decision.highlights import claim_spans
from experts.registry import window_tokens
from retrieval.evidence import gather_evidence
from storage.repository import current_repository
from verdictflow.claims import split_claims
from verdictflow.config import get_settings
from verdictflow.contracts import (
    Claim,
    ClaimScore,
    ClaimVerdict,
    Evidence,
    InputError,
    Item,
    ItemVerdict,
    QualityResult,
)
from verdictflow.inputs import coerce_items, read_jsonl


def read_items(path: str | None, records: list | None) -> tuple[list[Item], list[InputError]]:
    """Parse a JSONL file or Python records into items and per-record errors."""
    if path is not None:
        return read_jsonl(path)
    return coerce_items(records or [])


def claims_of(items: list[Item]) -> list[Claim]:
    """Every item's claims, in order."""
    return [claim for item in items for claim in split_claims(item)]


def evidence_for(claims: list[Claim], k: int | None = None) -> dict[str, list[Evidence]]:
    """Evidence per claim (``k`` windows or chunks each; None: ``retrieval.top_k``), the item's
    own context else the corpus, in windows the longest-reading cross-encoder reads whole
    (``experts.registry.window_tokens``; the others read each in windows of their own)."""
    window = window_tokens(get_settings().experts.registry)
    overlap = int(window * get_settings().experts.window_overlap)
    return gather_evidence(claims, k=k, window=window, overlap=overlap)


def decide(
    claims: list[Claim], evidence: dict[str, list[Evidence]], scores: list[ClaimScore]
) -> list[ClaimVerdict]:
    """Calibrate each claim's combined score, abstain when unsure, attach its evidence and
    the spans of its words that evidence does not back (``experts.spans``)."""
    settings = get_settings().experts
    spans = claim_spans(claims, evidence, scores, settings.registry) if settings.spans else {}
    return decide_claims(claims, evidence, scores, spans=spans)


def _root_flow_run() -> str | None:
    """The outermost Prefect flow run this stage runs in (a job's id), else None (and
    Prefect is not imported for it: a process that never imported it runs in no flow)."""
    if "prefect" not in sys.modules:
        return None
    from prefect.runtime import flow_run

    found = flow_run.root_flow_run_id  # the run itself when it has no parent; None outside
    return str(found) if found else None


def open_run(
    run_id: str, parameters: dict, code_version: str, items: list[Item], errors: list[InputError]
) -> set[str]:
    """Record the run, its items and its input errors (one transaction); returns claims
    already decided (resume; a new run has none, and storage is not asked)."""
    repo = current_repository()
    parent = parameters.get("parent_run_id")  # set on reprocess runs
    new = repo.open_run(
        run_id,
        "verify",
        parameters,
        code_version,
        items,
        errors,
        parent_run_id=parent,
        prefect_flow_run_id=_root_flow_run(),
    )
    return set() if new else repo.claim_ids_done(run_id)


def persist_batch(
    run_id: str,
    claims: list[Claim],
    evidence: dict[str, list[Evidence]],
    scores: list[ClaimScore],
    verdicts: list[ItemVerdict],
) -> dict[str, int]:
    """Write one batch's claims, evidence, expert scores and verdicts (idempotent; one
    transaction)."""
    flat = [e for ev in evidence.values() for e in ev]
    return current_repository().save_batch(run_id, claims, flat, scores, verdicts)


def load_verdicts(run_id: str) -> list[ItemVerdict]:
    """Every item verdict stored for a run (resumed runs include earlier batches)."""
    return current_repository().load_item_verdicts(run_id)


def save_quality(run_id: str, results: list[QualityResult]) -> None:
    """Store every expectation result with the run."""
    current_repository().save_quality_results(run_id, results)


def close_run(run_id: str, status: str, counts: dict, timings: dict) -> None:
    """Mark the run finished with its counts and timings."""
    current_repository().finish_run(run_id, status, counts, timings)
