"""Evidence for claims: the item's own context when it has one, else the corpus."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.chunking import chunk_spans, chunk_text
from retrieval.embedding import embed_texts
from retrieval.search import search_many
from retrieval.store import ChunkStore
from verdictflow.config import get_settings
from verdictflow.contracts import Chunk, Claim, Evidence


def context_doc_id(item_id: str) -> str:
    """The doc_id given to an item's context."""
    return f"context:{item_id}"


def _context_chunks(
    claims: Sequence[Claim], window: int | None, overlap: int | None
) -> dict[tuple[str, str], list[Chunk]]:
    """The verification windows of each (item, context) the claims come from."""
    chunks_of: dict[tuple[str, str], list[Chunk]] = {}
    for claim in claims:
        key = (claim.item_id, claim.context or "")
        if key not in chunks_of:
            chunks_of[key] = chunk_text(
                claim.context or "", context_doc_id(claim.item_id), "", None, window, overlap
            )
    return chunks_of


def _rank_context(
    claims: Sequence[Claim],
    claim_vectors: np.ndarray,
    k: int,
    chunks_of: dict[tuple[str, str], list[Chunk]],
    vectors: np.ndarray,
) -> dict[str, list[Evidence]]:
    """Top-k chunks of each claim's own context by cosine similarity (``vectors``: the
    chunks' embeddings, in ``chunks_of`` order)."""
    offsets: dict[tuple[str, str], int] = {}
    pos = 0
    for key, chunks in chunks_of.items():
        offsets[key] = pos
        pos += len(chunks)
    out: dict[str, list[Evidence]] = {}
    for claim, cvec in zip(claims, claim_vectors, strict=True):
        key = (claim.item_id, claim.context or "")
        chunks = chunks_of[key]
        if not chunks:
            out[claim.claim_id] = []
            continue
        sims = vectors[offsets[key] : offsets[key] + len(chunks)] @ cvec
        order = np.argsort(-sims, kind="stable")[:k]
        out[claim.claim_id] = [
            Evidence(
                claim_id=claim.claim_id,
                doc_id=chunks[i].doc_id,
                chunk_id=chunks[i].chunk_id,
                text=chunks[i].text,
                score=float(sims[i]),
                rank=rank,
                origin="context",
            )
            for rank, i in enumerate(order, start=1)
        ]
    return out


def windowed(
    evidence: list[Evidence], window: int, overlap: int | None, first_rank: int = 1
) -> list[Evidence]:
    """Each evidence cut into windows of at most ``window`` tokens (a chunk that fits stays
    whole; a longer one becomes ``<chunk_id>@w<j>`` pieces), ranked in order from
    ``first_rank``."""
    out: list[Evidence] = []
    for ev in evidence:
        spans = chunk_spans(ev.text, window, overlap)
        pieces = (
            [(ev.chunk_id, ev.text)]
            if len(spans) <= 1
            else [
                (f"{ev.chunk_id}@w{j}", ev.text[start:end]) for j, (start, end) in enumerate(spans)
            ]
        )
        for chunk_id, text in pieces:
            rank = first_rank + len(out)
            out.append(ev.model_copy(update={"chunk_id": chunk_id, "text": text, "rank": rank}))
    return out


def gather_evidence(
    claims: list[Claim],
    k: int | None = None,
    mode: str | None = None,
    add_corpus: bool | None = None,
    store: ChunkStore | None = None,
    window: int | None = None,
    overlap: int | None = None,
) -> dict[str, list[Evidence]]:
    """Ranked evidence per claim_id.

    Claims with ``context``: the context is cut into verification windows of ``window``
    tokens sharing ``overlap`` (doc_id ``context:<item_id>``), ranked against the claim by
    embedding similarity (top k, origin ``context``).
    Claims without context: corpus search (``mode``, hybrid by default; origin ``corpus``).
    ``add_corpus`` also appends corpus hits to context claims (ranks continue after the
    context's). A claim with no evidence maps to ``[]``. All claims are embedded at once.

    Args:
        claims: The claims.
        k: Evidence per claim (per origin); default ``settings.retrieval.top_k``.
        mode: Corpus search mode; default ``settings.retrieval.search_mode``.
        add_corpus: Default ``settings.retrieval.add_corpus_evidence``.
        store: The chunk store; default the one under ``settings.lancedb_path``.
        window, overlap: Verification window and overlap tokens: contexts are cut into
            windows, and corpus chunks longer than a window are cut to fit; default the
            retrieval chunks as they are.
    """
    settings = get_settings().retrieval
    k = k or settings.top_k
    add_corpus = settings.add_corpus_evidence if add_corpus is None else add_corpus
    out: dict[str, list[Evidence]] = {c.claim_id: [] for c in claims}
    if not claims:
        return out
    with_ctx = [i for i, c in enumerate(claims) if c.context and c.context.strip()]
    chunks_of = _context_chunks([claims[i] for i in with_ctx], window, overlap)
    # One encoder pass for the claims and their contexts' chunks (the rest hits the cache).
    texts = [c.text for c in claims]
    both = embed_texts(texts + [c.text for cs in chunks_of.values() for c in cs])
    vectors, chunk_vectors = both[: len(texts)], both[len(texts) :]
    if with_ctx:
        ctx_claims = [claims[i] for i in with_ctx]
        out.update(_rank_context(ctx_claims, vectors[with_ctx], k, chunks_of, chunk_vectors))
    ctx_set = set(with_ctx)
    corpus_idx = [i for i in range(len(claims)) if add_corpus or i not in ctx_set]
    if corpus_idx:
        hits = search_many(
            [claims[i].text for i in corpus_idx],
            k=k,
            mode=mode,
            vectors=vectors[corpus_idx],
            store=store,
        )
        for i, claim_hits in zip(corpus_idx, hits, strict=True):
            claim = claims[i]
            first = len(out[claim.claim_id])
            found = [
                Evidence(
                    claim_id=claim.claim_id,
                    doc_id=h.doc_id,
                    chunk_id=h.chunk_id,
                    text=h.text,
                    score=h.score,
                    rank=first + h.rank,
                    origin="corpus",
                )
                for h in claim_hits
            ]
            if window:  # retrieval chunks longer than a verification window are cut to fit
                found = windowed(found, window, overlap, first + 1)
            out[claim.claim_id] = out[claim.claim_id] + found
    return out
