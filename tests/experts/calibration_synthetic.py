"""Synthetic labelled scores for calibration tests: a scorer with a known miscalibration."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def miscalibrated(
    n: int, seed: int, sharpen: float = 3.0, scale: float = 1.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels drawn from true probabilities; the scorer reports them sharpened by ``sharpen``.

    Returns (scorer probabilities [n, 3], labels [n], true probabilities [n, 3]).
    """
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=scale, size=(n, 3))
    true = softmax(logits)
    cumulative = true.cumsum(axis=1)
    labels = (rng.random(n)[:, None] > cumulative).sum(axis=1).clip(0, 2)
    return softmax(logits * sharpen), labels.astype(np.int64), true
