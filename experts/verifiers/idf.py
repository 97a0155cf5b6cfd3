"""Inverse document frequencies of word stems: how much a claim word says.

The alignment expert weighs each claim word by its idf (BERTScore's weighting): a rare word
the evidence lacks matters more than a common one. The documents are the corpus's chunks
(``retrieval.store.ChunkStore.texts``, counted once per version of the table); without a
corpus, the evidence windows being scored; with fewer than ``MIN_DOCUMENTS`` of those, every
word weighs the same.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from experts.verifiers.spans import words

MIN_DOCUMENTS = 5


@dataclass(frozen=True)
class IdfTable:
    """Smoothed idf, ``log((n + 1) / (df + 1)) + 1``, of lower-cased word stems.

    A stem no document holds gets the highest weight; an empty table weighs every word 1.
    """

    n_documents: int = 0
    df: dict[str, int] = field(default_factory=dict)
    source: str = "uniform"

    @classmethod
    def from_texts(cls, texts: Iterable[str], source: str = "texts") -> IdfTable:
        """Count each stem once per text."""
        df: Counter[str] = Counter()
        n = 0
        for text in texts:
            n += 1
            df.update({w.stem for w in words(text)})
        return cls(n, dict(df), source)

    def weight(self, stem: str) -> float:
        """The idf of ``stem`` (1.0 in an empty table)."""
        if not self.n_documents:
            return 1.0
        return math.log((self.n_documents + 1) / (self.df.get(stem, 0) + 1)) + 1.0


UNIFORM = IdfTable()


@functools.lru_cache(maxsize=4)
def _corpus_table(path: str, version: int) -> IdfTable:
    from retrieval.store import ChunkStore

    return IdfTable.from_texts(ChunkStore(path).texts(), source=f"corpus@{version}")


def corpus_idf(path: str | Path | None = None) -> IdfTable | None:
    """The idf of the corpus's chunks (the LanceDB store at ``path``, default the setting's),
    or None when there is no corpus."""
    from retrieval.store import ChunkStore

    store = ChunkStore(path)
    if not store.exists():
        return None
    version = store.version()
    table = _corpus_table(str(store.path), version)
    return table if table.n_documents else None


def windows_idf(evidence: Iterable[str]) -> IdfTable:
    """The idf of the distinct evidence windows, or uniform weights under ``MIN_DOCUMENTS``."""
    distinct = list(dict.fromkeys(evidence))
    if len(distinct) < MIN_DOCUMENTS:
        return UNIFORM
    return IdfTable.from_texts(distinct, source="windows")
