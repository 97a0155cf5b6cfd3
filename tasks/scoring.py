"""The scoring stage: gate -> expert batches on the flow's task runner (Dask) -> combine.

``score_batch`` is the Prefect task that runs on a worker; it builds its expert from a
per-process cache (``experts.registry.cached_expert``), so models never travel as task
arguments. ``score_claims`` is called inside a running flow and fans the batches out.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence

import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.tasks import exponential_backoff

from experts.base import check_probabilities
from experts.ensemble import combine
from experts.gate import load_gate
from experts.registry import cached_expert, load_registry, registry_path
from experts.routing import balance_score, top_k_route, utilisation
from verdictflow.config import get_settings
from verdictflow.contracts import Claim, ClaimScore, Evidence

logger = logging.getLogger(__name__)
_settings = get_settings()


@task(
    name="score-batch",
    retries=_settings.verify.task_retries,
    retry_delay_seconds=exponential_backoff(_settings.verify.task_retry_delay_s),
    cache_policy=NO_CACHE,
    persist_result=False,
)
def score_batch(
    expert: str, pairs: list[tuple[str, str]], registry: str | None = None
) -> np.ndarray:
    """One expert's probabilities [n, 3] on a batch of (claim, evidence) pairs."""
    model = cached_expert(expert, registry)
    return check_probabilities(model.predict(pairs), len(pairs), expert)


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


def _batches(
    indices: np.ndarray, pairs: Sequence[tuple[str, str]], size: int, slots: int
) -> list[np.ndarray]:
    """Split routed pair indices into batches of similar length (less padding): at most
    ``size`` pairs, and enough batches (two per task slot) to keep every worker busy."""
    order = sorted(indices.tolist(), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    if slots:
        size = max(1, min(size, -(-len(order) // (2 * slots))))
    return [np.array(order[s : s + size]) for s in range(0, len(order), size)]


def _submit(args: tuple, on_gpu: bool) -> tuple:
    """Submit one batch to the flow's task runner; GPU batches ask for a ``GPU`` resource."""
    if not on_gpu:
        return (args, score_batch.submit(*args), False)
    import dask

    with dask.annotate(resources={"GPU": 1}):
        return (args, score_batch.submit(*args), True)


def _gather(submitted: tuple, runner: object, poll_s: float) -> np.ndarray:
    """A batch's result. A batch waiting for a GPU is resubmitted without the resource
    request once no worker advertises a GPU any more, so it never waits forever."""
    args, future, on_gpu = submitted
    while on_gpu:
        try:
            return future.result(timeout=poll_s)
        except TimeoutError:
            if runner_capacity(runner)[1] == 0:
                logger.warning("no GPU worker left: running %s batch on CPU", args[0])
                future.wrapped_future.cancel()
                future, on_gpu = score_batch.submit(*args), False
    return future.result()


def _domain(claim: Claim, claim_domains: dict[str, str] | None) -> str | None:
    """The claim's domain: given, else "qa" for an answer to a question, else unknown."""
    if claim_domains and claim.claim_id in claim_domains:
        return claim_domains[claim.claim_id]
    return "qa" if claim.question else None


def score_claims(
    claims: list[Claim],
    evidence: dict[str, list[Evidence]],
    *,
    registry: str | None = None,
    top_k: int | None = None,
    claim_domains: dict[str, str] | None = None,
) -> tuple[list[ClaimScore], dict]:
    """Route every (claim, chunk) pair through the gate, score expert batches, combine.

    Called inside a running flow, each batch is a ``score_batch`` task on the flow's task
    runner (Dask workers; cross-encoder batches ask for a ``GPU`` resource when a worker has
    one); outside a flow the batches run in this process.

    Args:
        claims: the claims to score.
        evidence: claim_id -> its ranked evidence chunks (claims without any get NEI).
        registry: expert registry YAML; None: the setting or the shipped one.
        top_k: experts per pair; None: ``settings.experts.gate_top_k``.
        claim_domains: optional claim_id -> domain, matched against registry domains
            (default: "qa" for claims that answer a question).

    Returns:
        One ``ClaimScore`` per claim in order, and the routing report (gate version, pairs,
        pairs scored, utilisation per expert, balance score, batches, routing decisions).
    """
    settings = get_settings()
    reg = str(registry_path(registry))
    specs = load_registry(reg)
    if not specs:
        raise RuntimeError(f"expert registry {reg} has no enabled, available expert")
    gate = load_gate(specs)
    names = gate.expert_names
    kinds = {s.name: s.kind for s in specs}
    k = top_k or settings.experts.gate_top_k

    pair_claims: list[int] = []
    pair_chunks: list[str] = []
    pairs: list[tuple[str, str]] = []
    domains: list[str | None] = []
    for ci, claim in enumerate(claims):
        for ev in evidence.get(claim.claim_id, []):
            pair_claims.append(ci)
            pair_chunks.append(ev.chunk_id)
            pairs.append((claim.text, ev.text))
            domains.append(_domain(claim, claim_domains))

    started = time.perf_counter()
    probs = gate.probs(pairs, domains) if pairs else np.zeros((0, len(names)))
    routing = top_k_route(probs, k, settings.experts.gate_capacity_factor)

    gated = time.perf_counter()
    ctx = FlowRunContext.get()
    runner = ctx.task_runner if ctx else None
    slots, n_gpu = runner_capacity(runner)
    per_task = settings.experts.pairs_per_task
    submitted = []
    for e, name in enumerate(names):
        on_gpu = bool(n_gpu) and kinds[name] == "cross_encoder"
        for batch in _batches(np.flatnonzero(routing.mask[:, e]), pairs, per_task, slots):
            args = (name, [pairs[i] for i in batch], reg)
            if runner is None:
                submitted.append((name, batch, score_batch.fn(*args)))
            else:
                submitted.append((name, batch, _submit(args, on_gpu)))

    outputs = {name: np.full((len(pairs), 3), np.nan) for name in names}
    for name, batch, result in submitted:
        if runner is not None:
            result = _gather(result, runner, settings.experts.gpu_poll_s)
        outputs[name][batch] = result

    scored = time.perf_counter()
    claim_ids = [c.claim_id for c in claims]
    scores = combine(claim_ids, pair_claims, pair_chunks, routing, outputs, names)
    util = utilisation(routing.mask) if pairs else np.zeros(len(names))
    report = {
        "gate": gate.version,
        "experts": list(names),
        "k": min(k, len(names)),
        "claims": len(claims),
        "pairs": len(pairs),
        "pairs_scored": int(routing.mask.sum()),
        "dense_pairs": len(pairs) * len(names),
        "utilisation": {n: round(float(u), 4) for n, u in zip(names, util, strict=True)},
        "balance": round(balance_score(util), 4) if pairs else None,
        "batches": len(submitted),
        "dropped_by_capacity": routing.dropped,
        "gpu_workers": n_gpu,
        "gate_s": round(gated - started, 4),
        "experts_s": round(scored - gated, 4),
        "decisions": [
            {
                "claim_id": claims[pair_claims[i]].claim_id,
                "chunk_id": pair_chunks[i],
                "experts": {
                    names[e]: round(float(routing.weights[i, e]), 6)
                    for e in np.flatnonzero(routing.mask[i])
                },
            }
            for i in range(len(pairs))
        ],
    }
    return scores, report
