"""Combining: the gate-weighted mixture of the selected experts, and each claim's best chunk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from experts.mixture.routing import Routing
from verdictflow.contracts import CONTRADICTED, NOT_ENOUGH_INFO, SUPPORTED, ClaimScore

NO_EVIDENCE_PROBS = (0.0, 0.0, 1.0)
# Chunks whose deciding probability is within this of the strongest's say the same about as
# strongly: the one about the claim decides among them (``best_chunk``).
NEAR_TIE = 0.1


def mixture(routing: Routing, outputs: dict[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """Per pair, ``sum_e weight[e] * probs_e`` over the experts the pair was routed to.

    An expert that has no reading of a pair (exactly uniform probabilities: the numbers
    expert on a claim without a quantity, the entities expert without a name) abstains: its
    weight goes to the pair's other routed experts, so "no opinion" never pulls a verdict
    towards not-enough-info. A pair on which every routed expert abstains stays uniform.

    Raises:
        ValueError: a routed pair has no output from its expert (a lost batch).
    """
    n = routing.mask.shape[0]
    weights = np.where(routing.mask, routing.weights, 0.0)
    stacked = np.full((len(names), n, 3), 1.0 / 3.0)
    for e, name in enumerate(names):
        rows = routing.mask[:, e]
        if not rows.any():
            continue
        out = outputs[name][rows]
        if np.isnan(out).any():
            raise ValueError(f"expert {name!r}: {int(np.isnan(out).any(1).sum())} pairs unscored")
        stacked[e, rows] = out
    opinion = ~np.all(np.abs(stacked - 1.0 / 3.0) < 1e-9, axis=2).T  # [n, experts]
    voting = weights * opinion
    total, kept = weights.sum(axis=1, keepdims=True), voting.sum(axis=1, keepdims=True)
    scaled = np.divide(voting * total, kept, out=np.zeros_like(voting), where=kept > 0)
    weights = np.where(kept > 0, scaled, weights)
    return np.einsum("ne,enk->nk", weights, stacked)


def _addressing(
    strength: np.ndarray, cover: np.ndarray, candidates: np.ndarray, margin: float
) -> int:
    """Of the ``candidates``, those within ``margin`` of the strongest; of these the one
    holding most of the claim's words (``cover``), then the strongest."""
    top = strength[candidates].max()
    near = np.flatnonzero(candidates & (strength >= top - margin))
    return int(max(near, key=lambda i: (cover[i], strength[i])))


def best_chunk(
    probs: np.ndarray,
    on_subject: np.ndarray | None = None,
    coverage: np.ndarray | None = None,
    margin: float = NEAR_TIE,
    rule: str = "addressing",
) -> int:
    """Row of the deciding chunk among a claim's chunks.

    Chunks about something else (``on_subject`` False) never decide while one about the
    claim's subject exists. Rule ``best_support``: of the rest, the chunk with the highest
    p_supported - p_contradicted. Rule ``addressing``: of the rest, a contradicting chunk (top
    label contradicted) wins over the most supportive chunk when it covers more of the claim's
    words (``coverage``): it states the opposite, the other merely does not mention it (of several
    such, the most contradicting). Else the most supportive chunk if any chunk's top label
    is supported; else the most contradicting one if any is contradicted; else the most
    supportive one. "Most" is a near tie within ``margin``: of chunks that say so about as
    strongly, the one that holds most of the claim's words decides (the passage about the
    claim, not one that happens to score a little higher).
    """
    n = len(probs)
    allowed = np.ones(n, bool) if on_subject is None or not on_subject.any() else on_subject
    cover = np.zeros(n) if coverage is None else np.asarray(coverage, dtype=np.float64)
    if rule == "best_support":
        lead = probs[:, SUPPORTED] - probs[:, CONTRADICTED]
        return _addressing(lead, cover, allowed, margin)
    top = np.where(allowed, probs.argmax(axis=1), -1)
    supported, contradicted = top == SUPPORTED, top == CONTRADICTED
    if supported.any():
        best = _addressing(probs[:, SUPPORTED], cover, supported, margin)
        covering = contradicted & (cover > cover[best])
        if covering.any():
            return _addressing(probs[:, CONTRADICTED], cover, covering, margin)
        return best
    if contradicted.any():
        return _addressing(probs[:, CONTRADICTED], cover, contradicted, margin)
    leaning = probs[:, SUPPORTED] - probs[:, NOT_ENOUGH_INFO] * 1e-9
    return _addressing(leaning, cover, allowed, margin)


def combine(
    claim_ids: Sequence[str],
    pair_claims: Sequence[int],
    pair_chunks: Sequence[str],
    routing: Routing,
    outputs: dict[str, np.ndarray],
    names: Sequence[str],
    mixed: np.ndarray | None = None,
    on_subject: np.ndarray | None = None,
    coverage: np.ndarray | None = None,
    chunk_rule: str = "addressing",
) -> list[ClaimScore]:
    """One ``ClaimScore`` per claim (in ``claim_ids`` order).

    Args:
        claim_ids: the claims, in order.
        pair_claims: for each pair, the index of its claim in ``claim_ids``.
        pair_chunks: for each pair, its evidence chunk id.
        routing: the gate's routing of the pairs over ``names``.
        outputs: expert name -> float [n_pairs, 3] (NaN where not routed).
        names: expert names, in routing column order.
        mixed: the combined probabilities per pair [n_pairs, 3]; None: ``mixture``.
        on_subject, coverage: per pair, whether the chunk is about the claim's subject and
            the share of the claim's content words it holds (``best_chunk``).
        chunk_rule: which chunk decides a claim (``best_chunk``'s ``rule``).
    """
    mixed = mixture(routing, outputs, names) if mixed is None else mixed
    rows_of: dict[int, list[int]] = defaultdict(list)
    for row, ci in enumerate(pair_claims):
        rows_of[ci].append(row)
    scores = []
    for ci, claim_id in enumerate(claim_ids):
        rows = rows_of.get(ci, [])
        if not rows:
            scores.append(
                ClaimScore(
                    claim_id=claim_id, probs=NO_EVIDENCE_PROBS, best_chunk_id=None, experts={}
                )
            )
            continue
        best = rows[
            best_chunk(
                mixed[rows],
                None if on_subject is None else on_subject[rows],
                None if coverage is None else coverage[rows],
                rule=chunk_rule,
            )
        ]
        selected = np.flatnonzero(routing.mask[best])
        experts = {names[e]: round(float(routing.weights[best, e]), 6) for e in selected}
        spread = sum(
            routing.weights[best, e] * 0.5 * np.abs(outputs[names[e]][best] - mixed[best]).sum()
            for e in selected
        )
        expert_probs: dict[str, dict[str, tuple[float, float, float]]] = {}
        for e, name in enumerate(names):
            routed = [r for r in rows if routing.mask[r, e]]
            if routed:
                expert_probs[name] = {
                    pair_chunks[r]: tuple(float(x) for x in outputs[name][r]) for r in routed
                }
        p = mixed[best] / mixed[best].sum()
        scores.append(
            ClaimScore(
                claim_id=claim_id,
                probs=(float(p[0]), float(p[1]), float(p[2])),
                best_chunk_id=pair_chunks[best],
                experts=experts,
                expert_probs=expert_probs,
                spread=float(spread),
            )
        )
    return scores
