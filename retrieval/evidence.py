"""Evidence for claims: the item's own context when it has one, else the corpus."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.chunking import chunk_spans, chunk_text, text_hash
from retrieval.embedding import embed_texts
from retrieval.loaders import text_title
from retrieval.search import search_many
from retrieval.store import ChunkStore
from verdictflow.config import get_settings
from verdictflow.contracts import Chunk, Claim, Evidence


def similarity(claim_vector: np.ndarray, evidence_vector: np.ndarray) -> float:
    """The cosine similarity of two normalised embeddings, clipped to [0, 1]: what a reader
    is shown of how close a piece of evidence is to the claim."""
    return float(np.clip(np.dot(claim_vector, evidence_vector), 0.0, 1.0))


def with_similarity(
    evidence: list[Evidence], claim_vector: np.ndarray, vectors: np.ndarray
) -> list[Evidence]:
    """Each evidence with its ``similarity`` to the claim (``vectors``: the evidence texts'
    embeddings, in order)."""
    return [
        ev.model_copy(update={"similarity": similarity(claim_vector, vec)})
        for ev, vec in zip(evidence, vectors, strict=True)
    ]


def context_doc_id(item_id: str) -> str:
    """The doc_id given to an item's context."""
    return f"context:{item_id}"


def _context_chunks(
    claims: Sequence[Claim], window: int | None, overlap: int | None
) -> dict[tuple[str, str], list[Chunk]]:
    """The verification windows of each (item, context) the claims come from, with the
    context's title (``text_title``) in their metadata when it opens with one."""
    chunks_of: dict[tuple[str, str], list[Chunk]] = {}
    for claim in claims:
        key = (claim.item_id, claim.context or "")
        if key not in chunks_of:
            title = text_title(claim.context or "")
            chunks_of[key] = chunk_text(
                claim.context or "",
                context_doc_id(claim.item_id),
                "",
                {"title": title} if title else None,
                window,
                overlap,
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
                similarity=float(np.clip(sims[i], 0.0, 1.0)),
                title=str(chunks[i].metadata.get("title") or ""),
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


def corpus_vectors(texts: list[str], store: ChunkStore | None = None) -> np.ndarray:
    """Embeddings of retrieved pieces [n, dim]: the store's own vectors of the chunks it holds
    as they are (embedded at ingest, found by content hash), the rest (pieces of a chunk cut
    to a window) embedded now, in one batch."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    hashes = [text_hash(t) for t in texts]
    stored = (store or ChunkStore()).vectors_by_hash(hashes)
    missing = [t for t, h in zip(texts, hashes, strict=True) if h not in stored]
    fresh = dict(zip(missing, embed_texts(missing, keep_tokens=True), strict=True))
    return np.stack(
        [stored[h] if h in stored else fresh[t] for t, h in zip(texts, hashes, strict=True)]
    ).astype(np.float32, copy=False)


def closest(evidence: list[Evidence], n: int) -> list[Evidence]:
    """The ``n`` pieces of a claim's evidence closest to it (their ``similarity``; ties: the
    better ranked), in their order, ranked again from 1."""
    if len(evidence) <= n:
        return evidence
    by_similarity = sorted(range(len(evidence)), key=lambda i: -(evidence[i].similarity or 0.0))
    keep = sorted(by_similarity[:n])
    return [evidence[i].model_copy(update={"rank": r}) for r, i in enumerate(keep, start=1)]


def gather_evidence(
    claims: list[Claim],
    k: int | None = None,
    mode: str | None = None,
    add_corpus: bool | None = None,
    store: ChunkStore | None = None,
    window: int | None = None,
    overlap: int | None = None,
    per_claim: int | None = None,
) -> dict[str, list[Evidence]]:
    """Ranked evidence per claim_id.

    Claims with ``context``: the context is cut into verification windows of ``window``
    tokens sharing ``overlap`` (doc_id ``context:<item_id>``), ranked against the claim by
    embedding similarity (top k; without ``k``, ``retrieval.context_windows``, at most
    ``top_k``; origin ``context``).
    Claims without context: corpus search (``mode``, hybrid by default; origin ``corpus``).
    ``add_corpus`` also appends corpus hits to context claims (ranks continue after the
    context's). A claim with no evidence maps to ``[]``. All claims are embedded at once.
    Each evidence carries its ``similarity`` to the claim (cosine of the embeddings, in
    [0, 1]), the score a reader is shown; ``score`` stays the retrieval's own.

    Args:
        claims: The claims.
        k: Evidence per claim (per origin); default ``settings.retrieval.top_k``, and for a
            claim's own context ``settings.retrieval.context_windows``.
        mode: Corpus search mode; default ``settings.retrieval.search_mode``.
        add_corpus: Default ``settings.retrieval.add_corpus_evidence``.
        store: The chunk store; default the one under ``settings.lancedb_path``.
        window, overlap: Verification window and overlap tokens: contexts are cut into
            windows, and corpus chunks longer than a window are cut to fit; default the
            retrieval chunks as they are.
        per_claim: Keep only this many pieces per claim, the closest by ``similarity``
            (``closest``); default ``settings.retrieval.windows_per_claim`` (None: all).
    """
    settings = get_settings().retrieval
    # A context's windows per claim: k when asked for, else the setting's (at most top_k).
    context_k = k or min(settings.top_k, settings.context_windows or settings.top_k)
    k = k or settings.top_k
    per_claim = per_claim or settings.windows_per_claim
    add_corpus = settings.add_corpus_evidence if add_corpus is None else add_corpus
    out: dict[str, list[Evidence]] = {c.claim_id: [] for c in claims}
    if not claims:
        return out
    with_ctx = [i for i, c in enumerate(claims) if c.context and c.context.strip()]
    chunks_of = _context_chunks([claims[i] for i in with_ctx], window, overlap)
    # One encoder pass for the claims and their contexts' chunks (the rest hits the cache);
    # its token vectors are kept for the spans of the verdicts (``token_vectors``).
    texts = [c.text for c in claims]
    both = embed_texts(texts + [c.text for cs in chunks_of.values() for c in cs], keep_tokens=True)
    vectors, chunk_vectors = both[: len(texts)], both[len(texts) :]
    if with_ctx:
        ctx_claims = [claims[i] for i in with_ctx]
        out.update(
            _rank_context(ctx_claims, vectors[with_ctx], context_k, chunks_of, chunk_vectors)
        )
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
        corpus_found: list[tuple[int, list[Evidence]]] = []
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
                    title=str(h.metadata.get("title") or ""),
                )
                for h in claim_hits
            ]
            if window:  # retrieval chunks longer than a verification window are cut to fit
                found = windowed(found, window, overlap, first + 1)
            corpus_found.append((i, found))
        # What a reader is shown: the claim's similarity to each piece as checked (the
        # retrieval's fused score only orders them), from the vectors the store holds.
        ev_vectors = corpus_vectors([e.text for _, found in corpus_found for e in found], store)
        pos = 0
        for i, found in corpus_found:
            claim = claims[i]
            scored = with_similarity(found, vectors[i], ev_vectors[pos : pos + len(found)])
            pos += len(found)
            out[claim.claim_id] = out[claim.claim_id] + scored
    if per_claim:  # the experts score only the closest windows (their vectors are above)
        out = {claim_id: closest(found, per_claim) for claim_id, found in out.items()}
    return out
