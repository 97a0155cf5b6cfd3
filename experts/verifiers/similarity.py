"""The embedding-similarity expert: cosine similarity of claim and evidence embeddings.

A real but weak verifier: a claim that is close to its evidence in MiniLM space is likely
supported; far from it, there is not enough information. It cannot see contradictions (a
changed number barely moves the embedding), so it puts no mass on "contradicted" beyond a
floor. Its sigmoid is centred and scaled so that paraphrases (cos ~0.85) score high and
unrelated text (cos ~0.1) scores low; calibration refines it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from experts.base import Pair
from retrieval.embedding import embed_texts


class SimilarityExpert:
    """Cosine similarity of MiniLM embeddings, mapped to (supported, contradicted, nei)."""

    def __init__(
        self,
        name: str = "similarity",
        domains: tuple[str, ...] = (),
        centre: float = 0.6,
        scale: float = 12.0,
        contradicted_floor: float = 0.02,
    ) -> None:
        self.name = name
        self.domains = domains
        self.centre = centre
        self.scale = scale
        self.contradicted_floor = contradicted_floor

    def predict(self, pairs: Sequence[Pair]) -> np.ndarray:
        if not pairs:
            return np.zeros((0, 3))
        claims = embed_texts([c for c, _ in pairs])
        evidence = embed_texts([e for _, e in pairs])
        cos = np.sum(claims * evidence, axis=1).astype(np.float64)
        p_sup = 1.0 / (1.0 + np.exp(-self.scale * (cos - self.centre)))
        p_sup = p_sup * (1.0 - self.contradicted_floor)
        p_con = np.full_like(p_sup, self.contradicted_floor)
        return np.stack([p_sup, p_con, 1.0 - p_sup - p_con], axis=1)
