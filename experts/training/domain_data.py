"""Labelled pairs from a user's own corpus: what a domain expert is trained and measured on.

Nobody has labelled data for their own domain; they have the corpus they check against. The
pairs come from it: the named transforms of ``experts.training.synthetic`` over its documents
(supported compressions and fusions, contradicting swaps and changes, not-enough-info
additions), plus hard negatives from retrieval: a sentence of the most similar *other*
document, shown with this document's window (``retrieved_other``, not enough info). Pairs
are deduplicated and split by document, so dev and test documents are never trained on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experts.training import synthetic
from retrieval.chunking import chunk_text, text_hash
from retrieval.embedding import embed_texts
from retrieval.loaders import load_documents
from retrieval.store import ChunkStore
from verdictflow.config import get_settings
from verdictflow.contracts import stable_fraction

HARD_NEGATIVE = "retrieved_other"
COLUMNS = ["evidence", "claim", "label", "transform", "group"]


class DomainCorpusError(ValueError):
    """A corpus a domain expert cannot be trained on (the message says which rule it broke)."""


def corpus_from_paths(paths: Sequence[str | Path]) -> pd.DataFrame:
    """The documents (``doc_id``, ``text``) of files or folders, read as ``ingest`` reads them.

    Raises:
        DomainCorpusError: a path is missing, or no document could be read (each refused
            file is named with its rule, e.g. ``binary``).
    """
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise DomainCorpusError(f"corpus: no such file or folder: {', '.join(missing)}")
    loaded = load_documents(list(paths))
    refused = "; ".join(f"{f.doc_id}: rule {f.rule}: {f.message}" for f in loaded.failures)
    docs = [(d.doc_id, d.text) for d in loaded.documents if d.text.strip()]
    if not docs:
        raise DomainCorpusError(
            "corpus: no readable document in "
            + ", ".join(map(str, paths))
            + (f" ({refused})" if refused else "")
        )
    return pd.DataFrame(docs, columns=["doc_id", "text"])


def corpus_from_store(filters: dict[str, Any], store: ChunkStore | None = None) -> pd.DataFrame:
    """The documents of the ingested corpus that match ``filters`` (e.g. ``{"domain":
    "banking"}``), each rebuilt from its chunks in order (overlaps are not repeated)."""
    chunks = (store or ChunkStore()).get_chunks(filters)
    if not chunks:
        raise DomainCorpusError(f"corpus: no chunk in the store matches {filters}")
    texts: dict[str, str] = {}
    ends: dict[str, int] = {}
    for c in chunks:  # in document order
        done = ends.get(c.doc_id, 0)
        piece = c.text[max(0, done - c.start) :] if c.start < done else c.text
        texts[c.doc_id] = texts.get(c.doc_id, "") + ("" if c.start < done else " ") + piece
        ends[c.doc_id] = max(done, c.end)
    return pd.DataFrame([(d, t.strip()) for d, t in texts.items()], columns=["doc_id", "text"])


def check_corpus(docs: pd.DataFrame) -> None:
    """Refuse a corpus too small to train on and measure (needs ``domains.min_documents``).

    Raises:
        DomainCorpusError: naming the rule (``min_documents``, ``sentences``).
    """
    need = get_settings().domains.min_documents
    if len(docs) < need:
        raise DomainCorpusError(
            f"corpus: rule min_documents: {len(docs)} document(s); a domain expert needs at "
            f"least {need}, so that dev and test documents are never trained on"
        )
    if not synthetic.source_sentences(docs):
        raise DomainCorpusError(
            "corpus: rule sentences: no sentence of 6-45 words to build claims from"
        )


def corpus_hash(docs: pd.DataFrame) -> str:
    """sha256 of the corpus (documents by id and text), order-independent."""
    digest = hashlib.sha256()
    for doc_id, text in sorted(docs[["doc_id", "text"]].itertuples(index=False)):
        digest.update(f"{doc_id}\0{text_hash(text)}\n".encode())
    return digest.hexdigest()


def chunk_hashes(docs: pd.DataFrame) -> list[str]:
    """Content hashes of the corpus's chunks, as ingest cuts and hashes them (staleness)."""
    return sorted(
        {
            c.content_hash
            for doc_id, text in docs[["doc_id", "text"]].itertuples(index=False)
            for c in chunk_text(str(text), str(doc_id))
        }
    )


def hard_negatives(docs: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Up to ``n`` pairs: a sentence's window with the most similar sentence (by embedding)
    of another document as the claim; near copies (most content words shared) are skipped."""
    pool = synthetic.source_sentences(docs)
    if n <= 0 or len({s.doc_id for s in pool}) < 2:
        return pd.DataFrame(columns=COLUMNS)
    vectors = embed_texts([s.text for s in pool])
    docs_of = np.array([s.doc_id for s in pool])
    rng = np.random.default_rng(seed)
    rows = []
    for i in rng.permutation(len(pool))[: 2 * n]:
        sims = vectors @ vectors[i]
        sims[docs_of == docs_of[i]] = -np.inf
        j = int(np.argmax(sims))
        claim, window = pool[j].text, pool[i].window
        if synthetic.word_overlap(pd.Series([window]), pd.Series([claim]))[0] >= 0.7:
            continue
        rows.append((window, claim, "not_enough_info", HARD_NEGATIVE, pool[i].doc_id))
        if len(rows) >= n:
            break
    return pd.DataFrame(rows, columns=COLUMNS)


def domain_pairs(docs: pd.DataFrame, seed: int | None = None) -> pd.DataFrame:
    """Every labelled pair of the corpus (columns ``COLUMNS``), deduplicated, in a stable
    order for a seed."""
    settings = get_settings()
    seed = settings.training.seed if seed is None else seed
    made = synthetic.build_pairs(docs, settings.domains.pairs_per_transform, seed)
    hard = hard_negatives(docs, settings.domains.hard_negatives, seed)
    pairs = pd.concat([made, hard], ignore_index=True)
    return pairs.drop_duplicates(["evidence", "claim"]).reset_index(drop=True)


def split_documents(doc_ids: Sequence[str], seed: int | None = None) -> dict[str, set[str]]:
    """Documents per split (train / dev / test) by a stable hash; dev and test hold at least
    one document each."""
    settings = get_settings()
    seed = settings.training.seed if seed is None else seed
    ranked = sorted(set(doc_ids), key=lambda d: stable_fraction(f"domain:{seed}:{d}"))
    n = len(ranked)
    n_dev = max(1, round(settings.domains.dev_fraction * n))
    n_test = max(1, round(settings.domains.test_fraction * n))
    if n < n_dev + n_test + 1:
        raise DomainCorpusError(f"corpus: rule min_documents: {n} documents cannot be split")
    return {
        "test": set(ranked[:n_test]),
        "dev": set(ranked[n_test : n_test + n_dev]),
        "train": set(ranked[n_test + n_dev :]),
    }


def split_pairs(pairs: pd.DataFrame, parts: dict[str, set[str]]) -> dict[str, pd.DataFrame]:
    """The pairs of each split's documents."""
    return {
        name: pairs[pairs["group"].isin(docs)].reset_index(drop=True)
        for name, docs in parts.items()
    }
