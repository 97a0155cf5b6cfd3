"""Claim words and what the evidence says of them: the readings the span-reading experts
share (numbers, entities, negation, alignment), and how readings become a claim's spans
(``verdictflow.contracts.Span``: character offsets into the claim)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from experts.verifiers.text import STOP_WORDS, stem
from verdictflow.contracts import Span

# A word in any script ("Zürich", "naïve", "東京"), a number with its separators ("1,500",
# "3.2"), a contraction ("doesn't"); a hyphen splits ("built-in" is two words).
WORD_RE = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*")
# What may lie between two words of one span: spaces, hyphens, slashes, apostrophes.
_JOINABLE = re.compile(r"^[\s\-‐–/'’]*$")
PRIORITY = {"contradicted": 2, "unsupported": 1, "supported": 0}
# Stop words that carry the claim's meaning (how many, which way, in what order): content,
# and, like numbers, backed only by the same word in the evidence (a vector puts "before"
# next to "after", "all" next to "some").
KEY_WORDS = frozenset(
    [
        "all",
        "some",
        "every",
        "each",
        "many",
        "few",
        "fewer",
        "most",
        "least",
        "several",
        "only",
        "both",
        "always",
        "sometimes",
        "more",
        "less",
        "before",
        "after",
        "above",
        "below",
        "first",
        "last",
    ]
)
ReadingKind = Literal["supported", "unsupported", "contradicted"]


@dataclass(frozen=True)
class Word:
    """A word of a text and its character offsets."""

    start: int
    end: int
    text: str

    @property
    def lower(self) -> str:
        return self.text.lower().replace("’", "'")

    @property
    def stem(self) -> str:
        return stem(self.lower)

    @property
    def content(self) -> bool:
        """A key word, or neither a stop word nor a negation cue (the negation expert's)."""
        low = self.lower
        return low in KEY_WORDS or (low not in STOP_WORDS and not low.endswith("n't"))

    @property
    def numeric(self) -> bool:
        return any(ch.isdigit() for ch in self.text)

    @property
    def literal(self) -> bool:
        """Backed only by itself in the evidence: a number or a key word."""
        return self.numeric or self.lower in KEY_WORDS


def words(text: str, offset: int = 0) -> list[Word]:
    """The words of ``text`` in order; offsets are shifted by ``offset``."""
    return [Word(m.start() + offset, m.end() + offset, m.group(0)) for m in WORD_RE.finditer(text)]


@dataclass(frozen=True)
class Reading:
    """What an expert read of the claim's characters [start, end).

    Attributes:
        kind: "supported", "unsupported" or "contradicted".
        score: how sure the reading is, in [0, 1].
        evidence: the evidence words it was read against ("" when none).
        source: the reading's expert kind ("numbers", "entities", "negation", "alignment").
    """

    start: int
    end: int
    kind: ReadingKind
    score: float
    evidence: str = ""
    source: str = ""


def differing(claim: str, start: int, end: int, other: str) -> tuple[int, int]:
    """The part of ``claim[start:end]`` from its first to its last word that ``other`` lacks
    ("45 hours" against "38 hours" gives "45", "Twenty minutes" against "10-minute" gives
    "Twenty": a word counts as had in any inflection); the whole stretch when ``other`` has
    them all."""
    have = {w.stem for w in words(other)}
    lacking = [w for w in words(claim[start:end], start) if w.stem not in have]
    return (lacking[0].start, lacking[-1].end) if lacking else (start, end)


def _resolve(readings: Iterable[Reading]) -> list[Reading]:
    """Non-overlapping readings: where two overlap, the higher kind (contradicted, then
    unsupported, then supported) and then the surer one is kept."""
    kept: list[Reading] = []
    ranked = sorted(readings, key=lambda r: (-PRIORITY[r.kind], -r.score, r.start))
    for r in ranked:
        if all(r.end <= k.start or r.start >= k.end for k in kept):
            kept.append(r)
    return sorted(kept, key=lambda r: r.start)


def to_spans(claim: str, readings: Sequence[Reading]) -> list[Span]:
    """The claim's spans: its unsupported and contradicted readings, overlaps resolved, and
    neighbours of one kind joined when only spaces, hyphens or stop words lie between them."""
    merged: list[list] = []  # [start, end, kind, score]
    for r in _resolve(readings):
        if r.kind == "supported":
            merged.append([r.start, r.end, "supported", r.score])
            continue
        if merged and merged[-1][2] == r.kind and _joinable(claim[merged[-1][1] : r.start]):
            merged[-1][1] = r.end
            merged[-1][3] = max(merged[-1][3], r.score)
        else:
            merged.append([r.start, r.end, r.kind, r.score])
    return [
        Span(start=s, end=e, text=claim[s:e], kind=k, score=round(min(max(sc, 0.0), 1.0), 4))
        for s, e, k, sc in merged
        if k != "supported"
    ]


def _joinable(gap: str, max_words: int = 2) -> bool:
    gap_words = words(gap)
    rest = WORD_RE.sub("", gap)
    return (
        len(gap_words) <= max_words
        and all(not w.content for w in gap_words)
        and bool(_JOINABLE.match(rest))
    )
