"""Search the chunk store: vector, full-text (BM25) and hybrid (reciprocal rank fusion).

An empty or missing store gives no hits, never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from retrieval.embedding import embed_texts
from retrieval.store import ChunkStore, filter_clause
from verdictflow.config import get_settings

log = logging.getLogger(__name__)

Mode = Literal["vector", "fts", "hybrid"]
MODES: tuple[str, ...] = ("vector", "fts", "hybrid")
# With an ANN (IVF-PQ) index, re-rank this many times k candidates by exact distance.
REFINE_FACTOR = 10
_COLUMNS = ["doc_id", "chunk_id", "text", "source", "domain", "start", "end", "metadata"]


class SearchHit(BaseModel):
    """One ranked chunk; ``score`` is cosine similarity (vector), BM25 (fts) or RRF (hybrid)."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    chunk_id: str
    text: str
    score: float
    rank: int
    source: str = ""
    domain: str = ""
    start: int = 0
    end: int = 0
    metadata: dict[str, Any] = Field(default_factory=dict)


def _check_mode(mode: str | None) -> str:
    mode = mode or get_settings().retrieval.search_mode
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}; expected one of {MODES}")
    return mode


def _hits(rows: list[dict[str, Any]], score_of) -> list[SearchHit]:
    import json

    out = []
    for rank, row in enumerate(rows, start=1):
        meta = row.get("metadata")
        if isinstance(meta, bytes | str):
            meta = json.loads(meta) if meta else {}
        out.append(
            SearchHit(
                doc_id=row["doc_id"],
                chunk_id=row["chunk_id"],
                text=row["text"],
                score=float(score_of(row)),
                rank=rank,
                source=row.get("source") or "",
                domain=row.get("domain") or "",
                start=int(row.get("start") or 0),
                end=int(row.get("end") or 0),
                metadata=meta or {},
            )
        )
    return out


def _fts_text(query: str) -> str:
    """The query as plain terms: the FTS parser must not see operators or quotes."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in query).split())


def _search_one(
    tbl, query: str, vector: np.ndarray | None, k: int, mode: str, where: str | None
) -> list[SearchHit]:
    from lancedb.rerankers import RRFReranker

    text = _fts_text(query)
    if mode == "fts" or (mode == "hybrid" and vector is None):
        if not text:
            return []
        builder = tbl.search(text, query_type="fts", fts_columns="text")
        score_of = _score_fts
        columns = [*_COLUMNS, "_score"]
    elif mode == "vector" or not text:
        builder = (
            tbl.search(vector, query_type="vector")
            .distance_type("cosine")
            .refine_factor(REFINE_FACTOR)
        )
        score_of = _score_vector
        columns = [*_COLUMNS, "_distance"]
    else:
        rrf = RRFReranker(K=get_settings().retrieval.rrf_k)
        builder = (
            tbl.search(query_type="hybrid")
            .vector(vector)
            .text(text)
            .distance_type("cosine")
            .refine_factor(REFINE_FACTOR)
            .rerank(rrf)
        )
        score_of = _score_rrf
        columns = _COLUMNS
    builder = builder.select(columns).limit(k)
    if where:
        builder = builder.where(where, prefilter=True)
    return _hits(builder.to_list(), score_of)


def _score_vector(row: dict[str, Any]) -> float:
    return 1.0 - row["_distance"]


def _score_fts(row: dict[str, Any]) -> float:
    return row["_score"]


def _score_rrf(row: dict[str, Any]) -> float:
    return row["_relevance_score"]


def search_many(
    queries: Sequence[str],
    k: int | None = None,
    mode: str | None = None,
    filters: dict[str, Any] | None = None,
    where: str | None = None,
    vectors: np.ndarray | None = None,
    store: ChunkStore | None = None,
) -> list[list[SearchHit]]:
    """Search the store for each query; the queries are embedded in one batch.

    Args:
        queries: Query texts.
        k: Hits per query; default ``settings.retrieval.top_k``.
        mode: ``vector``, ``fts`` or ``hybrid``; default ``settings.retrieval.search_mode``.
        filters: ``{column or metadata key: value or list of values}``, all must match.
        where: A raw LanceDB SQL filter, ANDed with ``filters``.
        vectors: Precomputed normalised query embeddings ``[len(queries), dim]``.
        store: The chunk store; default the one under ``settings.lancedb_path``.

    Returns:
        One list of hits per query, best first (empty when the store is empty or missing).
    """
    mode = _check_mode(mode)
    k = k or get_settings().retrieval.top_k
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    store = store or ChunkStore()
    tbl = store.table()
    if tbl is None or not queries or tbl.count_rows() == 0:
        return [[] for _ in queries]
    clauses = [c for c in (filter_clause(filters), where) if c]
    clause = " AND ".join(f"({c})" for c in clauses) or None
    if mode != "vector" and not any(ix.index_type == "FTS" for ix in tbl.list_indices()):
        log.warning("no full-text index on %s yet: searching by vector only", store.path)
        mode = "vector"
    if mode != "fts" and vectors is None:
        vectors = embed_texts(list(queries))
    return [
        _search_one(tbl, q, None if vectors is None else vectors[i], k, mode, clause)
        for i, q in enumerate(queries)
    ]


def search(
    query: str,
    k: int | None = None,
    mode: str | None = None,
    filters: dict[str, Any] | None = None,
    where: str | None = None,
    store: ChunkStore | None = None,
) -> list[SearchHit]:
    """Search the store for one query (see ``search_many``)."""
    return search_many([query], k=k, mode=mode, filters=filters, where=where, store=store)[0]
