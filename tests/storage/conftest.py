"""Storage fixtures: a migrated repository on SQLite and PostgreSQL, and test data builders."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import pytest

from storage.repository import Repository
from verdictflow.contracts import (
    ClaimScore,
    ClaimVerdict,
    Evidence,
    ItemVerdict,
    Span,
    VerdictLabel,
)


@pytest.fixture
def repo(db_url: str) -> Iterator[Repository]:
    """A repository on a migrated database (SQLite file per test, shared PostgreSQL DB)."""
    repository = Repository(db_url)
    repository.upgrade()
    yield repository
    repository.dispose()


@pytest.fixture
def run_id() -> str:
    """A run id no other test uses (the PostgreSQL database is shared by the session)."""
    return f"run-{uuid.uuid4().hex[:12]}"


def make_verdicts(
    n_items: int, claims_per_item: int = 2, evidence_per_claim: int = 2, seed: int = 0
) -> list[ItemVerdict]:
    """Item verdicts with claims and ranked evidence, probabilities drawn from ``seed``."""
    rng = random.Random(seed)
    labels = list(VerdictLabel)
    out = []
    for i in range(n_items):
        item_id = f"item-{i}"
        claims = []
        for j in range(claims_per_item):
            claim_id = f"{item_id}#{j}"
            a, b = rng.random(), rng.random()
            probs = (a / 2, b / 4, 1 - a / 2 - b / 4)
            evidence = [
                Evidence(
                    claim_id=claim_id,
                    doc_id=f"doc-{(i + k) % 7}",
                    chunk_id=f"doc-{(i + k) % 7}:{k}",
                    text=f"evidence {k} for {claim_id}",
                    score=rng.random(),
                    rank=k,
                    origin="corpus" if k % 2 == 0 else "context",
                )
                for k in range(evidence_per_claim)
            ]
            rng.choice(labels)  # (kept: the draws after it stay as they were)
            uncertainty, abstained = rng.random(), rng.random() < 0.3
            claims.append(
                ClaimVerdict(
                    item_id=item_id,
                    claim_id=claim_id,
                    text=f"claim {j} of {item_id}",
                    label=ClaimVerdict.label_for(probs, abstained),
                    probs=probs,
                    p_supported=probs[0],
                    uncertainty=uncertainty,
                    abstained=abstained,
                    evidence=evidence,
                    best_evidence=evidence[0].chunk_id if evidence else None,
                    experts={"similarity": 0.6, "numbers": 0.4},
                    no_evidence=not evidence,
                    spans=_spans(f"claim {j} of {item_id}", j),
                )
            )
        weakest = min(claims, key=lambda c: c.p_supported)
        out.append(
            ItemVerdict(
                item_id=item_id, label=weakest.label, p_supported=weakest.p_supported, claims=claims
            )
        )
    return out


def _spans(text: str, j: int) -> list[Span]:
    """Every other claim carries spans: its first word unsupported, its item id contradicted."""
    if j % 2:
        return []
    item = text.rindex("item")
    return [
        Span(start=0, end=5, text=text[:5], kind="unsupported", score=0.75),
        Span(start=item, end=len(text), text=text[item:], kind="contradicted", score=0.5),
    ]


def make_scores(
    n_claims: int, experts: int = 4, chunks: int = 5, seed: int = 0
) -> list[ClaimScore]:
    """Claim scores with every expert's probabilities on every chunk."""
    rng = random.Random(seed)
    names = [f"expert-{e}" for e in range(experts)]
    out = []
    for c in range(n_claims):
        expert_probs = {}
        for name in names:
            per_chunk = {}
            for k in range(chunks):
                a = rng.random()
                per_chunk[f"chunk-{k}"] = (a, (1 - a) / 2, (1 - a) / 2)
            expert_probs[name] = per_chunk
        out.append(
            ClaimScore(
                claim_id=f"claim-{c}",
                probs=(0.5, 0.25, 0.25),
                best_chunk_id="chunk-0",
                experts={names[0]: 0.7, names[1]: 0.3},
                expert_probs=expert_probs,
            )
        )
    return out
