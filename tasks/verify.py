"""Thin Prefect tasks of the verify flow: each wraps one library stage."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from experts.calibration import load_calibrator
from experts.conformal import load_conformal
from experts.uncertainty import decide
from quality.outcome import GateOutcome, quarantine_errors
from retrieval.evidence import gather_evidence
from tasks.common import current_repository, data_task_options
from tasks.quality import all_results, quality_report
from verdictflow.claims import split_claims
from verdictflow.contracts import (
    Claim,
    ClaimScore,
    ClaimVerdict,
    Evidence,
    InputError,
    Item,
    ItemVerdict,
)
from verdictflow.inputs import coerce_items, read_jsonl
from verdictflow.verdicts import no_evidence_verdict

_HEAVY = data_task_options()


@task(name="read-items", **_HEAVY)
def read_items(path: str | None, records: list | None) -> tuple[list[Item], list[InputError]]:
    """Parse a JSONL file or Python records into items and per-record errors."""
    if path is not None:
        return read_jsonl(path)
    return coerce_items(records or [])


def quarantine(
    items: list[Item], errors: list[InputError], gate: GateOutcome
) -> tuple[list[Item], list[InputError]]:
    """Hold back the items the input gate failed, each stored as an error naming its rule."""
    if not gate.failed_ids:
        return items, errors
    kept = [i for i in items if i.id not in gate.failed_ids]
    return kept, [*errors, *quarantine_errors(gate)]


@task(name="save-quality", **_HEAVY)
def save_quality(run_id: str, outcomes: dict[str, GateOutcome], artifact: bool = True) -> None:
    """Store every expectation result with the run and publish the combined report (the fast
    path passes ``artifact=False``: outside a run an artifact would start a Prefect server)."""
    current_repository().save_quality_results(run_id, all_results(outcomes))
    if artifact:
        quality_report.fn(outcomes)


@task(name="split-claims", **_HEAVY)
def split_claims_task(items: list[Item]) -> list[Claim]:
    """Every item's claims, in order."""
    return [claim for item in items for claim in split_claims(item)]


@task(name="gather-evidence", **_HEAVY)
def gather_evidence_task(claims: list[Claim]) -> dict[str, list[Evidence]]:
    """Evidence per claim: the item's own context, else the corpus."""
    return gather_evidence(claims)


@task(name="decide-verdicts", **_HEAVY)
def decide_task(
    claims: list[Claim], evidence: dict[str, list[Evidence]], scores: list[ClaimScore]
) -> list[ClaimVerdict]:
    """Calibrate each claim's combined score, abstain when unsure, attach its evidence."""
    import numpy as np

    calibrator, conformal = load_calibrator(), load_conformal()
    by_claim = {s.claim_id: s for s in scores}
    verdicts = []
    for claim in claims:
        score = by_claim.get(claim.claim_id)
        if score is None or not evidence.get(claim.claim_id):
            verdicts.append(no_evidence_verdict(claim))
            continue
        raw = np.asarray([score.probs], dtype=np.float64)
        probs = calibrator.transform(raw)[0] if calibrator else raw[0]
        prediction_set = conformal.prediction_sets(probs[None, :])[0] if conformal else None
        label, abstained = decide(tuple(probs), prediction_set)
        verdicts.append(
            ClaimVerdict(
                item_id=claim.item_id,
                claim_id=claim.claim_id,
                text=claim.text,
                label=label,
                probs=tuple(float(p) for p in probs),
                p_supported=float(probs[0]),
                uncertainty=score.spread,
                abstained=abstained,
                evidence=evidence[claim.claim_id],
                best_evidence=score.best_chunk_id,
                experts=score.experts,
            )
        )
    return verdicts


@task(name="open-run", **_HEAVY)
def open_run(
    run_id: str, parameters: dict, code_version: str, items: list[Item], errors: list[InputError]
) -> set[str]:
    """Record the run, its items and its input errors; returns claims already decided (resume)."""
    repo = current_repository()
    parent = parameters.get("parent_run_id")  # set on reprocess runs
    repo.start_run(run_id, "verify", parameters, code_version, parent_run_id=parent)
    repo.save_items(run_id, items)
    repo.save_input_errors(run_id, errors)
    return repo.claim_ids_done(run_id)


@task(name="persist-batch", **_HEAVY)
def persist_batch(
    run_id: str,
    claims: list[Claim],
    evidence: dict[str, list[Evidence]],
    scores: list[ClaimScore],
    verdicts: list[ItemVerdict],
) -> dict[str, int]:
    """Write one batch's claims, evidence, expert scores and verdicts (idempotent)."""
    repo = current_repository()
    return {
        "claims": repo.save_claims(run_id, claims),
        "evidence": repo.save_evidence(run_id, [e for ev in evidence.values() for e in ev]),
        "expert_scores": repo.save_expert_scores(run_id, scores),
        "verdicts": repo.save_verdicts(run_id, verdicts),
    }


@task(name="load-verdicts", **_HEAVY)
def load_verdicts(run_id: str) -> list[ItemVerdict]:
    """Every item verdict stored for a run (resumed runs include earlier batches)."""
    return current_repository().load_item_verdicts(run_id)


@task(
    name="close-run", retries=_HEAVY["retries"], retry_delay_seconds=_HEAVY["retry_delay_seconds"]
)
def close_run(run_id: str, status: str, counts: dict, timings: dict) -> None:
    """Mark the run finished with its counts and timings."""
    current_repository().finish_run(run_id, status, counts, timings)


@task(name="summary-artifact", cache_policy=NO_CACHE)
def summary_artifact(run_id: str, verdicts: list[ItemVerdict], counts: dict) -> None:
    """A table of verdicts on the Prefect run (the first 500 items) and the run's counts."""
    rows = [
        {
            "item": v.item_id,
            "verdict": v.label.value,
            "p_supported": round(v.p_supported, 3),
            "claims": len(v.claims),
            "weakest claim": min(v.claims, key=lambda c: c.p_supported).text[:120],
        }
        for v in verdicts[:500]
    ]
    counts_line = ", ".join(f"{k}: {v}" for k, v in counts.items())
    create_table_artifact(
        key="verify-summary",
        table=rows,
        description=f"Run `{run_id}` — {counts_line}",
    )
