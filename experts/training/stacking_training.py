"""Fitting the learned combiner (``experts.mixture.stacking``) on labelled dev pairs.

Every expert of the registry scores every pair once; the pairs are routed by the gate the
pipeline uses (same top-k, same capacity), so the combiner learns from exactly the outputs
it will see. A share of the pairs (by claim hash) is held out to measure it against the
fixed-weight mixture and against every single expert; the shipped combiner is then refitted
on all the pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experts.base import Expert, Pair
from experts.mixture.ensemble import mixture
from experts.mixture.gate import load_gate
from experts.mixture.routing import top_k_route
from experts.mixture.stacking import (
    fit_stacker,
    pair_cheap_features,
    stack_features,
    stacker_file,
)
from experts.training.gate_training import expert_outputs
from verdictflow.config import get_settings
from verdictflow.contracts import SUPPORTED, label_index, stable_fraction


def _auroc(y: np.ndarray, p: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(y, p)), 4) if 0 < y.sum() < len(y) else None


def _figures(y: np.ndarray, candidates: dict[str, np.ndarray], sets: np.ndarray) -> dict:
    """AUROC of each candidate's p_supported, overall and per data set, with the mean."""
    out: dict[str, dict] = {}
    for name, p in candidates.items():
        per_set = {str(s): _auroc(y[sets == s], p[sets == s]) for s in sorted(set(sets))}
        valid = [v for v in per_set.values() if v is not None]
        out[name] = {
            "overall": _auroc(y, p),
            "mean": round(float(np.mean(valid)), 4) if valid else None,
            "sets": per_set,
        }
    return out


def fit_combiner(
    pairs: Sequence[Pair],
    labels: Sequence[str | int],
    experts: dict[str, Expert],
    registry: str | None = None,
    datasets: Sequence[str] | None = None,
    holdout: float = 0.3,
    path: str | Path | None = None,
) -> dict:
    """Fit, measure and save the combiner; returns its figures.

    Args:
        pairs: labelled (claim, evidence) pairs.
        labels: their labels (any name ``label_index`` reads; "not_supported" is not supported).
        experts: name -> loaded expert, covering the registry's enabled experts.
        registry: the registry whose gate routes the pairs; None: the setting or shipped one.
        datasets: each pair's data set name, for per-set figures.
        holdout: share of claims held out to measure (by a stable hash of the claim).
        path: where to save; default ``settings.experts.stacker_path`` or HOME/models.
    """
    from experts.registry import load_registry

    if not pairs:
        raise ValueError("fit_combiner needs labelled pairs")
    settings = get_settings().experts
    gate = load_gate(load_registry(registry))
    names = list(gate.expert_names)
    missing = sorted(set(names) - set(experts))
    if missing:
        raise ValueError(f"fit_combiner: no loaded expert for {missing}")
    dense = expert_outputs({n: experts[n] for n in names}, pairs)
    outputs = {n: dense[:, e] for e, n in enumerate(names)}
    routing = top_k_route(gate.probs(pairs), settings.gate_top_k, settings.gate_capacity_factor)
    features = stack_features(routing.mask, outputs, names, pair_cheap_features(pairs))
    y = np.array(
        [label_index(lab, f"labelled pair {i}") == SUPPORTED for i, lab in enumerate(labels)]
    )
    sets = np.asarray(datasets if datasets is not None else ["all"] * len(pairs))
    held = np.array([stable_fraction(f"combiner|{c}") < holdout for c, _ in pairs])
    measured = fit_stacker(features[~held], y[~held], names)
    mixed = mixture(routing, outputs, names)
    candidates = {
        "combiner": measured.p_supported(features[held]),
        "mixture": mixed[held, SUPPORTED],
        **{f"expert:{n}": outputs[n][held, SUPPORTED] for n in names},
    }
    figures = _figures(y[held], candidates, sets[held])
    singles = [v["mean"] for k, v in figures.items() if k.startswith("expert:") and v["mean"]]
    best = max(singles) if singles else None
    stacker = fit_stacker(features, y, names)
    stacker.metrics = {
        "pairs": len(pairs),
        "held_out": int(held.sum()),
        "combiner_mean_auroc": figures["combiner"]["mean"],
        "mixture_mean_auroc": figures["mixture"]["mean"],
        "best_single_mean_auroc": best,
        "gate": gate.version,
        "top_k": settings.gate_top_k,
    }
    file = stacker.save(stacker_file(path))
    return {"path": str(file), "figures": figures, **stacker.metrics}
