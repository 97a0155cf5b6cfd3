"""The spans of each claim: the words its deciding evidence does not back.

The span readers are the registry's alignment experts, routed or not (a span is a reading
of the pair, not a vote; the alignment expert folds in the numbers, names and negations the
rule experts read); a registry without one reads spans with its rule experts. They read each
claim against the evidence chunk that decided it (``ClaimScore.best_chunk_id``); the verdict
shows them unless it is supported (``experts.decision.decide.verdict_spans``).
"""

from __future__ import annotations

from collections.abc import Sequence

from experts.base import Expert, Pair
from experts.registry import cached_expert, load_registry, registry_path
from experts.verifiers.spans import Reading, to_spans
from verdictflow.contracts import Claim, ClaimScore, Evidence, Span

RULE_KINDS = ("numbers", "entities", "negation")


def span_readers(registry: str | None = None) -> list[Expert]:
    """The experts that read spans: the registry's alignment experts, else its rule experts."""
    specs = load_registry(registry, include_unrouted=True)
    names = [s.name for s in specs if s.kind == "alignment"]
    names = names or [s.name for s in specs if s.kind in RULE_KINDS]
    reg = str(registry_path(registry))
    return [cached_expert(name, reg) for name in names]


def read_spans(readers: Sequence[Expert], pairs: Sequence[Pair]) -> list[list[Span]]:
    """Each pair's spans by every reader, overlaps between readers resolved."""
    found: list[list[Span]] = [[] for _ in pairs]
    for reader in readers:
        batch = getattr(reader, "span_batch", None)
        spans = batch(pairs) if batch else [reader.spans(pair) for pair in pairs]
        for row, these in zip(found, spans, strict=True):
            row.extend(these)
    if len(readers) < 2:
        return found
    return [
        to_spans(claim, [Reading(s.start, s.end, s.kind, s.score) for s in row])
        for (claim, _), row in zip(pairs, found, strict=True)
    ]


def claim_spans(
    claims: Sequence[Claim],
    evidence: dict[str, list[Evidence]],
    scores: Sequence[ClaimScore],
    registry: str | None = None,
) -> dict[str, list[Span]]:
    """claim_id -> the spans of the claim against its deciding chunk (claims without one:
    none)."""
    by_claim = {s.claim_id: s for s in scores}
    ids, pairs = [], []
    for claim in claims:
        score = by_claim.get(claim.claim_id)
        best = score.best_chunk_id if score is not None else None
        chunk = next((e for e in evidence.get(claim.claim_id, []) if e.chunk_id == best), None)
        if chunk is not None:
            ids.append(claim.claim_id)
            pairs.append((claim.text, chunk.text))
    if not pairs:
        return {}
    return dict(zip(ids, read_spans(span_readers(registry), pairs), strict=True))
