"""Domain experts in routing: which (claim, evidence) pairs belong to a trained domain.

A domain expert (``verdictflow experts train-domain``) keeps a profile beside its weights,
``domain.json``: the documents it was trained on, the centroid of its corpus's sentence
embeddings and the cosine a claim needs to count as near it. A pair is in the domain when its
evidence comes from one of those documents, or its claim is near the centroid; the prior gate
then adds its domain boost to that expert (``PriorGate``), as it does for any matching domain.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experts.registry import ExpertSpec

PROFILE_FILE = "domain.json"


@dataclass(frozen=True)
class DomainProfile:
    """What routing needs to know of one domain expert's corpus."""

    name: str
    doc_ids: frozenset[str]
    centroid: np.ndarray
    threshold: float

    def near(self, vectors: np.ndarray) -> np.ndarray:
        """bool [n]: the (normalised) claim embeddings close enough to the corpus."""
        if len(vectors) == 0:
            return np.zeros(0, dtype=bool)
        return np.asarray(vectors, dtype=np.float32) @ self.centroid >= self.threshold


def centroid_profile(sentence_vectors: np.ndarray, quantile: float) -> tuple[np.ndarray, float]:
    """The normalised mean of a corpus's sentence embeddings and the ``quantile`` of its own
    sentences' cosine to it (the threshold a claim must reach)."""
    mean = np.asarray(sentence_vectors, dtype=np.float64).mean(axis=0)
    centroid = mean / max(np.linalg.norm(mean), 1e-12)
    cosines = np.asarray(sentence_vectors, dtype=np.float64) @ centroid
    return centroid.astype(np.float32), float(np.quantile(cosines, quantile))


def profile_data(weights: Path | None) -> dict | None:
    """The ``domain.json`` saved beside a domain expert's weights, or None (any other expert):
    the one reader of that file."""
    file = Path(weights or "") / PROFILE_FILE
    return json.loads(file.read_text()) if weights and file.exists() else None


@functools.lru_cache(maxsize=32)
def _read(file: Path, mtime_ns: int) -> DomainProfile:
    data = profile_data(file.parent)
    return DomainProfile(
        name=str(data["name"]),
        doc_ids=frozenset(data["doc_ids"]),
        centroid=np.asarray(data["centroid"], dtype=np.float32),
        threshold=float(data["threshold"]),
    )


def read_profile(weights: Path) -> DomainProfile | None:
    """The profile saved with a domain expert's weights, or None (not a domain expert)."""
    file = Path(weights) / PROFILE_FILE
    return _read(file, file.stat().st_mtime_ns) if file.exists() else None


def domain_profiles(specs: Sequence[ExpertSpec]) -> list[DomainProfile]:
    """Profiles of the domain experts among ``specs``."""
    found = (read_profile(s.weights) for s in specs if s.kind == "cross_encoder" and s.weights)
    return [p for p in found if p is not None]


def pair_domains(
    base: Sequence[str | None],
    evidence: Sequence[tuple[str, str]],
    claim_rows: Sequence[int],
    claim_vectors: np.ndarray,
    profiles: Sequence[DomainProfile],
) -> list[tuple[str, ...]]:
    """Each pair's domains: its claim's (``base``) and those of the profiles it belongs to.

    A pair belongs to a domain when its evidence is one of the domain's documents, or when it
    is checked against the corpus (not an item's own context) and its claim is near the
    domain's centroid. An item's own context is never a domain's: on HaluEval summaries with
    their own articles, routing by the claim alone cost 0.19 AUROC
    (``benchmarks/results/domain_experts.md``).

    Args:
        base: per pair, the claim's own domain (qa, long_source, ...) or None.
        evidence: per pair, its evidence's document and origin ("corpus" or "context").
        claim_rows: per pair, the row of its claim in ``claim_vectors``.
        claim_vectors: normalised claim embeddings [claims, dim].
        profiles: the domain experts' profiles.
    """
    near = {p.name: p.near(claim_vectors) for p in profiles}
    out = []
    for own, (doc, origin), row in zip(base, evidence, claim_rows, strict=True):
        found = tuple(
            p.name
            for p in profiles
            if doc in p.doc_ids or (origin != "context" and near[p.name][row])
        )
        out.append(((own,) if own else ()) + found)
    return out


def stale_domains(specs: Sequence[ExpertSpec], store, share: float) -> list[dict]:
    """Domain experts whose corpus changed in ``store`` by more than ``share`` of the chunks
    they were trained on (chunks gone, changed or added to their documents). A domain none of
    whose documents is in the store is not judged (it was trained from files never ingested).
    """
    out = []
    for spec in specs:
        profile = profile_data(spec.weights) if spec.kind == "cross_encoder" else None
        if profile is None:
            continue
        trained = set(profile.get("chunk_hashes", []))
        chunks = store.get_chunks({"doc_id": profile["doc_ids"]}) if profile["doc_ids"] else []
        chunks += store.get_chunks({"domain": profile["name"]})
        now = {c.content_hash for c in chunks}
        if not now or not trained:
            continue
        changed = len(trained ^ now) / len(trained)
        if changed > share:
            out.append(
                {
                    "name": profile["name"],
                    "changed_share": round(changed, 4),
                    "corpus_sha256": profile.get("corpus_sha256"),
                    "trained_chunks": len(trained),
                    "chunks_now": len(now),
                }
            )
    return out


def domain_summary(spec: ExpertSpec) -> dict | None:
    """A domain expert's corpus, its hash, when it was trained and how long ago; None for
    other experts (``experts list``)."""
    from datetime import UTC, datetime

    profile = profile_data(spec.weights) if spec.kind == "cross_encoder" else None
    if profile is None:
        return None
    created = datetime.fromisoformat(profile["created_at"])
    hours = (datetime.now(UTC) - created).total_seconds() / 3600
    age = f"{hours / 24:.1f} d" if hours >= 24 else f"{hours:.1f} h"
    return {
        "corpus": profile.get("corpus", ""),
        "corpus_sha256": profile["corpus_sha256"],
        "created_at": profile["created_at"],
        "age": age,
        "documents": len(profile["doc_ids"]),
    }
