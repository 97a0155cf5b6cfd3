"""The ``Expert`` protocol: what every verifier in the mixture provides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

# A (claim, evidence) pair, in that order.
Pair = tuple[str, str]


@runtime_checkable
class Expert(Protocol):
    """A verifier: probabilities over (supported, contradicted, not_enough_info) per pair.

    Attributes:
        name: Unique name, as in the registry.
        domains: Domains or claim types the expert is for (empty: general).
    """

    name: str
    domains: tuple[str, ...]

    def predict(self, pairs: Sequence[Pair]) -> np.ndarray:
        """Score (claim, evidence) pairs; returns float array [n, 3], rows summing to 1."""
        ...


def check_probabilities(probs: np.ndarray, n: int, name: str) -> np.ndarray:
    """Validate an expert's output: shape [n, 3], finite, rows summing to 1."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != (n, 3):
        raise ValueError(f"expert {name!r} returned shape {probs.shape}, expected ({n}, 3)")
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise ValueError(f"expert {name!r} returned non-finite or negative probabilities")
    if n and not np.allclose(probs.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError(f"expert {name!r} returned rows that do not sum to 1")
    return probs
