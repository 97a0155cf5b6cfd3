"""What a verify run should say plainly besides its verdicts: items checked against an empty
corpus (nothing ingested) get no evidence, and every claim of theirs is unsupported."""

from __future__ import annotations

from flows.pipeline import VerifyResult
from verdictflow.contracts import ItemVerdict


def empty_corpus_warning(verdicts: list[ItemVerdict]) -> str | None:
    """A plain warning when items were searched for in an empty corpus (no document
    ingested), so their claims had no evidence at all; None otherwise."""
    searched = [v.item_id for v in verdicts if any(c.no_evidence for c in v.claims)]
    if not searched:
        return None
    from retrieval.store import ChunkStore

    if ChunkStore().count() > 0:
        return None
    return (
        f"no documents are ingested: {len(searched)} item(s) without their own context had "
        "nothing to be checked against, so their claims are unsupported for lack of evidence "
        "(run `verdictflow ingest PATH` first, or give each item a 'context')"
    )


def with_warnings(result: VerifyResult) -> VerifyResult:
    """The result with ``counts["warnings"]`` (a list of sentences) when there is something
    plain to say about the run: items checked against an empty corpus."""
    warning = empty_corpus_warning(result.verdicts)
    if warning is None or warning in result.counts.get("warnings", []):
        return result
    warnings = [*result.counts.get("warnings", []), warning]
    return result.model_copy(update={"counts": {**result.counts, "warnings": warnings}})
