"""Verdicts with abstention, and epistemic uncertainty of the expert mixture.

``decide`` turns calibrated probabilities and a conformal prediction set into a verdict.
``expert_spread`` measures how much the selected experts disagree (the mutual information
between the expert choice and the label, normalised to [0, 1]); ``mc_dropout`` gives the same
measure over Monte Carlo dropout passes of one torch model (``experts.mc_dropout_samples``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from verdictflow.config import get_settings
from verdictflow.contracts import (
    CONTRADICTED,
    NOT_ENOUGH_INFO,
    SUPPORTED,
    ClaimVerdict,
    VerdictLabel,
)

_EPS = 1e-12
_LOG3 = float(np.log(3.0))

# The verdict that each class index stands for once a claim is not abstained.
INDEX_TO_VERDICT: dict[int, VerdictLabel] = {
    SUPPORTED: VerdictLabel.SUPPORTED,
    CONTRADICTED: VerdictLabel.CONTRADICTED,
    NOT_ENOUGH_INFO: VerdictLabel.UNSUPPORTED,
}


def threshold_label(probs: Sequence[float]) -> VerdictLabel:
    """Supported / contradicted / unsupported from probabilities: ``ClaimVerdict.label_for``."""
    return ClaimVerdict.label_for(tuple(float(p) for p in probs))


def threshold_indices(probs: np.ndarray) -> np.ndarray:
    """``threshold_label`` of each row as a class index (unsupported -> not_enough_info)."""
    index = {label: i for i, label in INDEX_TO_VERDICT.items()}
    rows = np.asarray(probs, dtype=np.float64)
    return np.array([index[threshold_label(row)] for row in rows], dtype=np.int64)


def decide(
    probs: tuple[float, float, float], prediction_set: tuple[int, ...] | None
) -> tuple[VerdictLabel, bool]:
    """The verdict on a claim and whether it abstained.

    'uncertain' (abstained) when a conformal prediction set is given and is not a single
    label; otherwise supported / contradicted / unsupported by ``threshold_label``.
    """
    if len(probs) != 3:
        raise ValueError(f"decide needs 3 probabilities, got {len(probs)}")
    if prediction_set is not None and len(prediction_set) != 1:
        return VerdictLabel.UNCERTAIN, True
    return threshold_label(probs), False


def _entropy(probs: np.ndarray) -> np.ndarray:
    p = np.clip(probs, _EPS, 1.0)
    return -np.sum(probs * np.log(p), axis=-1)


def mutual_information(samples: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Epistemic part of the predictive entropy, normalised by log 3.

    Args:
        samples: [m, n, 3] or [m, 3]: m predictive distributions (experts or dropout passes).
        weights: [m] mixture weights (normalised here); None: equal.

    Returns:
        [n] (or scalar) in [0, 1]: H(sum_i w_i p_i) - sum_i w_i H(p_i), over log 3.
    """
    samples = np.asarray(samples, dtype=np.float64)
    m = samples.shape[0]
    w = np.full(m, 1.0 / m) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (m,) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be {m} non-negative numbers with a positive sum")
    w = w / w.sum()
    w = w.reshape((m,) + (1,) * (samples.ndim - 1))
    mixture = np.sum(w * samples, axis=0)
    expected = np.sum(w[..., 0] * _entropy(samples), axis=0)
    return np.clip((_entropy(mixture) - expected) / _LOG3, 0.0, 1.0)


def expert_spread(expert_probs: list[np.ndarray], weights: Any) -> float:
    """Disagreement of the selected experts on one claim, in [0, 1] (0: they agree).

    Args:
        expert_probs: Each selected expert's probabilities [3] for the claim's best chunk.
        weights: Their gate weights (a list, array, or mapping in the same order).
    """
    if len(expert_probs) <= 1:
        return 0.0
    if isinstance(weights, dict):
        weights = list(weights.values())
    stacked = np.stack([np.asarray(p, dtype=np.float64).reshape(3) for p in expert_probs])
    return float(mutual_information(stacked, np.asarray(weights, dtype=np.float64)))


def mc_dropout(
    module: Any, forward: Callable[[], np.ndarray], samples: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo dropout: ``samples`` stochastic passes of a torch model.

    Dropout layers of ``module`` are switched to training mode for the passes (everything else,
    e.g. layer norm, stays in eval mode) and restored afterwards.

    Args:
        module: A ``torch.nn.Module``.
        forward: Runs the model once on the batch, returning probabilities [n, 3].
        samples: Number of passes; None: ``settings.experts.mc_dropout_samples``.

    Returns:
        (mean probabilities [n, 3], epistemic uncertainty [n] in [0, 1]).
    """
    import torch

    samples = get_settings().experts.mc_dropout_samples if samples is None else samples
    if samples < 2:
        raise ValueError("mc_dropout needs at least 2 samples (experts.mc_dropout_samples)")
    dropouts = [m for m in module.modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd)]
    modes = [m.training for m in dropouts]
    try:
        for m in dropouts:
            m.train(True)
        with torch.no_grad():
            draws = np.stack([np.asarray(forward(), dtype=np.float64) for _ in range(samples)])
    finally:
        for m, mode in zip(dropouts, modes, strict=True):
            m.train(mode)
    return draws.mean(axis=0), mutual_information(draws)


def selective_accuracy(probs: np.ndarray, labels: np.ndarray, abstained: np.ndarray) -> float:
    """Accuracy of the threshold verdicts on the rows not abstained (NaN if all abstained)."""
    abstained = np.asarray(abstained, dtype=bool)
    kept = ~abstained
    if not kept.any():
        return float("nan")
    predicted = threshold_indices(np.asarray(probs)[kept])
    return float(np.mean(predicted == np.asarray(labels)[kept]))
