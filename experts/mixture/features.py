"""The gate's inputs: claim and evidence embeddings plus cheap lexical features of a pair."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from experts.base import Pair
from experts.verifiers.entities import find_entities
from experts.verifiers.quantities import find_quantities
from experts.verifiers.text import best_sentence, content_tokens, coverage, negation_count, tokens

CHEAP_FEATURES = (
    "cosine",
    "content_coverage",
    "claim_quantities",
    "evidence_quantities",
    "claim_entities",
    "entity_coverage",
    "claim_negations",
    "evidence_negations",
    "log_claim_tokens",
    "log_evidence_tokens",
)


def cheap_features(claim: str, evidence: str) -> list[float]:
    """Lexical features of one pair, in ``CHEAP_FEATURES`` order (cosine left at 0)."""
    ents = find_entities(claim)
    ev_words = set(tokens(evidence))
    ent_cov = sum(all(w in ev_words for w in e.words) for e in ents) / len(ents) if ents else 1.0
    return [
        0.0,
        coverage(content_tokens(claim), content_tokens(evidence)),
        min(len(find_quantities(claim)), 5) / 5,
        min(len(find_quantities(evidence)), 10) / 10,
        min(len(ents), 5) / 5,
        ent_cov,
        min(negation_count(claim), 3) / 3,
        min(negation_count(evidence), 3) / 3,
        np.log1p(len(tokens(claim))) / 5,
        np.log1p(len(tokens(evidence))) / 6,
    ]


def _embed_unique(texts: Sequence[str]) -> np.ndarray:
    from retrieval.embedding import embed_texts

    unique = list(dict.fromkeys(texts))
    vectors = embed_texts(unique)
    index = {t: i for i, t in enumerate(unique)}
    return vectors[[index[t] for t in texts]]


def pair_features(pairs: Sequence[Pair]) -> np.ndarray:
    """Gate input per pair: [claim emb, evidence emb, their product, cheap features].

    The evidence side is the embedding of the evidence sentence that covers most of the
    claim's words: it is what the claim is about, and far cheaper to embed than a long
    chunk (the gate must cost much less than the experts it saves)."""
    claims = _embed_unique([c for c, _ in pairs])
    evidence = _embed_unique([best_sentence(c, e)[0][:1000] for c, e in pairs])
    cheap = np.array([cheap_features(c, e) for c, e in pairs], dtype=np.float32).reshape(
        len(pairs), len(CHEAP_FEATURES)
    )
    cheap[:, 0] = np.sum(claims * evidence, axis=1)
    return np.concatenate([claims, evidence, claims * evidence, cheap], axis=1).astype(np.float32)
