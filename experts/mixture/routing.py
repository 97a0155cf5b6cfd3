"""Top-k routing with capacity, utilisation, balance score and the Switch load-balancing loss."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Routing:
    """Which experts score which pair, and with what weight.

    Attributes:
        mask: bool [n, E], True where the pair is routed to the expert.
        weights: float [n, E], the gate probabilities renormalised over the selected experts
            (zero elsewhere; rows sum to 1).
        probs: float [n, E], the gate's full softmax.
        dropped: assignments refused because an expert was at capacity.
    """

    mask: np.ndarray
    weights: np.ndarray
    probs: np.ndarray
    dropped: int = 0


def capacity(n_pairs: int, k: int, n_experts: int, factor: float | None) -> int:
    """Most pairs one expert may take: ``ceil(factor * n * k / E)``; no limit without factor."""
    if factor is None or n_experts == 0:
        return n_pairs
    return max(1, math.ceil(factor * n_pairs * k / n_experts))


def sure_rows(probs: np.ndarray, margin: float | None) -> np.ndarray:
    """bool [n]: the pairs whose first choice leads the second by at least ``margin`` of
    gate probability (the gate is sure: one expert scores them); none when ``margin`` is
    None."""
    probs = np.asarray(probs, dtype=np.float64)
    if margin is None or probs.shape[1] < 2:
        return np.zeros(len(probs), dtype=bool)
    top = -np.sort(-probs, axis=1)
    return top[:, 0] - top[:, 1] >= margin


def top_k_route(
    probs: np.ndarray,
    k: int,
    capacity_factor: float | None = None,
    sure_margin: float | None = None,
) -> Routing:
    """Route each pair to its ``k`` most probable experts, respecting expert capacity.

    Assignments are filled in order of gate probability (the surest first). A pair's first
    choice is always kept, so every pair is scored; a later choice over capacity is replaced
    by the pair's next-best expert that still has room, or dropped. An expert the gate gives
    no probability (a domain expert outside its domain) is never a later choice. A pair the
    gate is sure of (``sure_rows`` at ``sure_margin``) gets its first choice only.
    """
    probs = np.asarray(probs, dtype=np.float64)
    n, n_experts = probs.shape
    k = max(1, min(k, n_experts))
    cap = capacity(n, k, n_experts, capacity_factor)
    order = np.argsort(-probs, axis=1, kind="stable")
    mask = np.zeros_like(probs, dtype=bool)
    load = np.zeros(n_experts, dtype=int)
    mask[np.arange(n), order[:, 0]] = True
    np.add.at(load, order[:, 0], 1)
    dropped = 0
    if k > 1:
        # Later choices, the surest first (by their gate probability).
        sure = sure_rows(probs, sure_margin)
        wanted = [
            (probs[i, order[i, r]], i, r) for i in range(n) if not sure[i] for r in range(1, k)
        ]
        for _, i, r in sorted(wanted, key=lambda w: -w[0]):
            for e in order[i, r:]:
                if not mask[i, e] and load[e] < cap and probs[i, e] > 0:
                    mask[i, e] = True
                    load[e] += 1
                    break
            else:
                dropped += 1
    weights = np.where(mask, probs, 0.0)
    sums = weights.sum(axis=1, keepdims=True)
    weights = np.divide(weights, sums, out=np.zeros_like(weights), where=sums > 0)
    return Routing(mask=mask, weights=weights, probs=probs, dropped=dropped)


def utilisation(mask: np.ndarray) -> np.ndarray:
    """Share of all assignments that went to each expert (sums to 1)."""
    counts = np.asarray(mask, dtype=np.float64).sum(axis=0)
    total = counts.sum()
    return counts / total if total else counts


def balance_score(util: np.ndarray) -> float:
    """1 - coefficient of variation of utilisation: 1 is perfectly even, <= 0 is collapsed."""
    util = np.asarray(util, dtype=np.float64)
    if util.size == 0 or util.mean() == 0:
        return 0.0
    return float(1.0 - util.std() / util.mean())


def load_balancing_loss(probs, mask):
    """Switch Transformer auxiliary loss: ``E * sum_e f_e * P_e`` (torch tensors).

    ``f_e`` is the fraction of assignments routed to expert e (not differentiable),
    ``P_e`` the mean gate probability of e. It is 1 when routing is uniform and approaches
    E when one expert takes everything.
    """
    n_experts = probs.shape[1]
    f = mask.float().sum(0) / mask.float().sum().clamp(min=1.0)
    p = probs.mean(0)
    return n_experts * (f.detach() * p).sum()
