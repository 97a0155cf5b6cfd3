"""The alignment expert: which words of a claim the evidence backs, BERTScore-style.

Each content word of the claim is aligned to the evidence window's content words by
contextual MiniLM vectors (the embedding model's word pieces, averaged per word:
``retrieval.embedding.token_vectors``); its best cosine is how well the evidence says it,
and a word the evidence holds itself (same stem) counts as said. Numbers, dates, names and
negations are not aligned by vectors: the rule experts' readings take those words (a changed
value is a contradicted span, not a missing word). A content word whose best match is under
``threshold`` is unsupported; neighbouring unsupported words join into one span.

Probabilities come from the unsupported share of the claim's content, each word weighted by
its idf (``experts.verifiers.idf``: the corpus's chunks, else the evidence windows) and by
how far under the threshold its match falls, through a logistic whose ``centre`` and
``scale`` were fitted on labelled dev pairs (``benchmarks/spans.py --fit``); the verify
flow's calibrators then treat it like every other expert. What p_supported leaves goes to
contradicted in the measure of the surest contradicted reading, else to not-enough-info. A
claim without content words gets no opinion (uniform).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from experts.base import Pair
from experts.verifiers.entities import EntitiesExpert
from experts.verifiers.idf import UNIFORM, IdfTable, corpus_idf, windows_idf
from experts.verifiers.negation import NegationExpert
from experts.verifiers.numbers import NumbersExpert
from experts.verifiers.spans import Reading, Word, to_spans, words
from verdictflow.contracts import Span

if TYPE_CHECKING:
    from retrieval.embedding import TokenVectors

UNIFORM_PROBS = (1 / 3, 1 / 3, 1 / 3)


@dataclass(frozen=True)
class WordMatch:
    """One weighed claim word and what the evidence says of it.

    Attributes:
        unsupported: how unsupported it is, in [0, 1] (1 for a contradicted word).
        similarity: its best cosine in the evidence (None when a rule or the word itself read it).
        nearest: the evidence words it was read against.
    """

    word: Word
    weight: float
    kind: str
    unsupported: float
    similarity: float | None
    nearest: str
    source: str


@dataclass(frozen=True)
class Alignment:
    """An expert's reading of one (claim, evidence) pair."""

    claim: str
    matches: list[WordMatch]
    spans: list[Span]
    unsupported_share: float
    contradicted: float  # the surest contradicted reading's score; 0 when none
    idf_source: str


class AlignmentExpert:
    """Claim words aligned to the evidence's words; unsupported and contradicted spans.

    Args:
        threshold: best cosine under which a content word is unsupported (the best span F1
            on the train and dev span sets; ``threshold``, ``centre`` and ``scale`` are the
            values ``benchmarks/spans.py --fit`` picked).
        margin: the soft unsupported share ramps from 0 at ``threshold + margin`` to 1 at
            ``threshold - margin``.
        centre, scale: the logistic from unsupported share to p_supported.
        contradicted_floor: p_contradicted when no reading contradicts.
        idf: "corpus" (the corpus's chunks, else the evidence windows), "windows" or
            "uniform"; ``idf_table`` overrides it.
        layer: the MiniLM hidden layer whose vectors align (-1: the last).
        cache_size: texts whose token vectors are kept (None: all).
    """

    def __init__(
        self,
        name: str = "alignment",
        domains: tuple[str, ...] = (),
        threshold: float = 0.65,
        margin: float = 0.1,
        centre: float = -0.10,
        scale: float = 1.22,
        contradicted_floor: float = 0.02,
        idf: str = "corpus",
        layer: int = -1,
        idf_table: IdfTable | None = None,
        cache_size: int | None = 256,
    ) -> None:
        if idf not in ("corpus", "windows", "uniform"):
            raise ValueError(f"alignment idf {idf!r}: expected corpus, windows or uniform")
        self.name = name
        self.domains = domains
        self.threshold = threshold
        self.margin = margin
        self.centre = centre
        self.scale = scale
        self.contradicted_floor = contradicted_floor
        self.idf = idf
        self.layer = layer
        self.idf_table = idf_table
        self.cache_size = cache_size
        self._cache: OrderedDict[str, TokenVectors] = OrderedDict()
        self._lock = threading.Lock()
        self.rules = (NumbersExpert(), NegationExpert(), EntitiesExpert())

    def idf_for(self, pairs: Sequence[Pair]) -> IdfTable:
        """The idf the pairs are weighed by."""
        if self.idf_table is not None:
            return self.idf_table
        if self.idf == "uniform":
            return UNIFORM
        table = corpus_idf() if self.idf == "corpus" else None
        return table or windows_idf(e for _, e in pairs)

    def analyse(self, pairs: Sequence[Pair]) -> list[Alignment]:
        """Every pair's word matches, spans and shares (one MiniLM pass over the texts that
        need vectors)."""
        table = self.idf_for(pairs)
        drafts = [self._draft(claim, evidence) for claim, evidence in pairs]
        vectors = self._vectors(pairs, drafts)
        return [
            self._finish(claim, evidence, draft, vectors, table)
            for (claim, evidence), draft in zip(pairs, drafts, strict=True)
        ]

    def _draft(self, claim: str, evidence: str) -> tuple[list[Reading], list[Word], list[Word]]:
        """The rule readings, the claim words left for alignment, the evidence's candidates."""
        rules = [r for expert in self.rules for r in expert.readings(claim, evidence)]
        ev_words = words(evidence)
        have = {w.lower for w in ev_words} | {w.stem for w in ev_words}
        left = [
            w
            for w in words(claim)
            if w.content
            and not any(r.start < w.end and w.start < r.end for r in rules)
            and not (w.lower in have or (not w.literal and w.stem in have))
        ]
        candidates = [w for w in ev_words if w.content and not w.literal]
        return rules, left, candidates

    def _vectors(self, pairs: Sequence[Pair], drafts: list) -> dict[str, TokenVectors]:
        """Token vectors of the texts that need alignment; the last ``cache_size`` texts are
        kept (a window is read for many claims, and again for the verdict's spans)."""
        from retrieval.embedding import token_vectors

        texts: list[str] = []
        for (claim, evidence), (_, left, candidates) in zip(pairs, drafts, strict=True):
            if any(not w.literal for w in left) and candidates:
                texts += [claim, evidence]
        with self._lock:
            out = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in out]
        out.update(zip(missing, token_vectors(missing, layer=self.layer), strict=True))
        with self._lock:
            for text in out:
                self._cache[text] = out[text]
                self._cache.move_to_end(text)
            while self.cache_size is not None and len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return out

    def _finish(self, claim, evidence, draft, vectors, table: IdfTable) -> Alignment:
        rules, left, candidates = draft
        aligned: dict[Word, tuple[float, str]] = {}
        to_align = [w for w in left if not w.literal]
        if to_align and candidates:
            sims = (
                _word_vectors(vectors[claim], to_align)
                @ _word_vectors(vectors[evidence], candidates).T
            )
            for i, w in enumerate(to_align):
                j = int(np.argmax(sims[i]))
                aligned[w] = (float(sims[i, j]), candidates[j].text)
        readings = list(rules)
        matches = []
        for w in words(claim):
            weight = table.weight(w.stem)
            rule = next((r for r in rules if r.start < w.end and w.start < r.end), None)
            if rule is not None and (w.content or rule.kind != "supported"):
                soft = 0.0 if rule.kind == "supported" else 1.0
                matches.append(
                    WordMatch(w, weight, rule.kind, soft, None, rule.evidence, rule.source)
                )
            elif w in left:
                sim, nearest = aligned.get(w, (0.0, ""))
                ramp = (self.threshold + self.margin - sim) / (2 * self.margin)
                soft = 1.0 if w.literal else float(np.clip(ramp, 0.0, 1.0))
                kind = "unsupported" if w.literal or sim < self.threshold else "supported"
                if kind == "unsupported":
                    readings.append(Reading(w.start, w.end, kind, max(soft, 0.5), nearest))
                similarity = None if w.literal else sim
                matches.append(WordMatch(w, weight, kind, soft, similarity, nearest, "alignment"))
            elif w.content:
                matches.append(WordMatch(w, weight, "supported", 0.0, 1.0, w.text, "lexical"))
        total = sum(m.weight for m in matches)
        share = sum(m.weight * m.unsupported for m in matches) / total if total else 0.0
        contradicted = max((r.score for r in rules if r.kind == "contradicted"), default=0.0)
        spans = to_spans(claim, readings)
        return Alignment(claim, matches, spans, share, contradicted, table.source)

    def probs(self, alignment: Alignment) -> tuple[float, float, float]:
        """(supported, contradicted, not_enough_info) of one reading: p_supported from the
        unsupported share (contradicted words count in it); the rest split by the surest
        contradicted reading (none: ``contradicted_floor``)."""
        if not alignment.matches:
            return UNIFORM_PROBS
        z = self.scale * (alignment.unsupported_share - self.centre)
        p_sup = (1.0 - self.contradicted_floor) / (1.0 + float(np.exp(z)))
        p_con = max(self.contradicted_floor, (1.0 - p_sup) * alignment.contradicted)
        return (p_sup, p_con, 1.0 - p_sup - p_con)

    def predict(self, pairs: Sequence[Pair]) -> np.ndarray:
        """Probabilities over (supported, contradicted, not_enough_info), one row per pair."""
        if not pairs:
            return np.zeros((0, 3))
        return np.array([self.probs(a) for a in self.analyse(pairs)], dtype=np.float64)

    def span_batch(self, pairs: Sequence[Pair]) -> list[list[Span]]:
        """Each pair's spans (one MiniLM pass for the batch)."""
        return [a.spans for a in self.analyse(pairs)] if pairs else []

    def spans(self, pair: Pair) -> list[Span]:
        """The claim's unsupported and contradicted spans against the evidence."""
        return self.span_batch([pair])[0]

    def explain(self, pair: Pair) -> str:
        """Why: each span with the evidence words it was read against, and the shares."""
        a = self.analyse([pair])[0]
        if not a.matches:
            return "the claim has no content word to align"
        parts = []
        for span in a.spans:
            inside = [m for m in a.matches if span.start <= m.word.start < span.end]
            notes = sorted({_note(m) for m in inside if m.kind == span.kind})
            parts.append(f"{span.kind} {span.text!r} ({'; '.join(notes)})")
        head = "; ".join(parts) if parts else "every content word is backed by the evidence"
        return (
            f"{head}; unsupported share {a.unsupported_share:.2f} of the claim's content "
            f"(idf: {a.idf_source})"
        )


def _note(m: WordMatch) -> str:
    if m.similarity is None:
        return f"{m.source}: evidence {m.nearest!r}" if m.nearest else f"{m.source}: not found"
    return f"{m.word.text} ~ {m.nearest!r} {m.similarity:.2f}"


def _word_vectors(tv: TokenVectors, ws: list[Word]) -> np.ndarray:
    """Each word's vector: the mean of its word pieces', normalised (zero when it has none)."""
    out = np.zeros((len(ws), tv.vectors.shape[1]), dtype=np.float32)
    starts, ends = tv.offsets[:, 0], tv.offsets[:, 1]
    for i, w in enumerate(ws):
        inside = (starts < w.end) & (ends > w.start)
        if inside.any():
            out[i] = tv.vectors[inside].mean(axis=0)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)
