"""The negation expert: the claim and the evidence sentence that says the same thing, one
negated and the other not (or one using the antonym of the other's verb), contradict.

It finds the evidence sentence that covers most of the claim's content words; if coverage is
high the two talk about the same thing, and then the parity of negation cues ("not",
"never", "n't", "no", "without", ...) and antonym swaps decides: equal parity leans
supported, different parity leans contradicted. Low coverage: not enough information.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from experts.base import Pair
from experts.verifiers.spans import Reading, Word, to_spans, words
from experts.verifiers.text import (
    NEGATION_CUES,
    best_sentence,
    content_tokens,
    negation_count,
    stem,
)
from verdictflow.contracts import Span

ANTONYMS = [
    ("increase", "decrease"),
    ("rise", "fall"),
    ("rose", "fell"),
    ("gain", "loss"),
    ("win", "lose"),
    ("won", "lost"),
    ("alive", "dead"),
    ("open", "closed"),
    ("legal", "illegal"),
    ("true", "false"),
    ("before", "after"),
    ("more", "less"),
    ("higher", "lower"),
    ("larger", "smaller"),
    ("bigger", "smaller"),
    ("above", "below"),
    ("accept", "reject"),
    ("accepted", "rejected"),
    ("allow", "forbid"),
    ("approved", "denied"),
    ("born", "died"),
    ("first", "last"),
    ("male", "female"),
    ("north", "south"),
    ("east", "west"),
    ("success", "failure"),
    ("positive", "negative"),
    ("included", "excluded"),
    ("majority", "minority"),
]
OPPOSITE = {stem(a): stem(b) for a, b in ANTONYMS} | {stem(b): stem(a) for a, b in ANTONYMS}


def antonym_swaps(claim_words: list[str], evidence_words: list[str]) -> list[tuple[str, str]]:
    """Word pairs where the claim uses one of an antonym pair and the evidence the other."""
    ev = set(evidence_words)
    cl = set(claim_words)
    return [(w, OPPOSITE[w]) for w in cl if w in OPPOSITE and OPPOSITE[w] in ev and w not in ev]


class NegationExpert:
    """Negation parity and antonym swaps between a claim and its best-aligned sentence."""

    def __init__(
        self, name: str = "negation", domains: tuple[str, ...] = (), min_overlap: float = 0.5
    ) -> None:
        self.name = name
        self.domains = domains
        self.min_overlap = min_overlap

    def analyse(self, claim: str, evidence: str) -> dict:
        """Best-aligned sentence, its coverage of the claim, negation counts, antonym swaps."""
        sentence, cov = best_sentence(claim, evidence, clauses=False)
        claim_neg, ev_neg = negation_count(claim), negation_count(sentence)
        claim_words = content_tokens(claim)
        swaps = antonym_swaps(claim_words, content_tokens(sentence))
        if swaps:  # an antonym is the same slot said the other way: it counts as aligned
            cov = min(1.0, cov + len(swaps) / max(len(set(claim_words)), 1))
        flipped = (claim_neg % 2 != ev_neg % 2) != (len(swaps) % 2 == 1)
        return {
            "sentence": sentence,
            "coverage": cov,
            "claim_negations": claim_neg,
            "evidence_negations": ev_neg,
            "swaps": swaps,
            "flipped": flipped,
        }

    def _probs(self, a: dict) -> tuple[float, float, float]:
        cov = a["coverage"]
        if cov < self.min_overlap:
            p_nei = 0.6 + 0.3 * (1 - cov)
            return ((1 - p_nei) * 0.6, (1 - p_nei) * 0.4, p_nei)
        strength = (cov - self.min_overlap) / (1 - self.min_overlap)
        if a["flipped"]:
            p_con = 0.5 + 0.4 * strength
            return (0.05, p_con, 0.95 - p_con)
        p_sup = 0.4 + 0.35 * strength
        return (p_sup, 0.1, 0.9 - p_sup)

    def predict(self, pairs: Sequence[Pair]) -> np.ndarray:
        """Probabilities over (supported, contradicted, not_enough_info), one row per pair."""
        if not pairs:
            return np.zeros((0, 3))
        return np.array([self._probs(self.analyse(c, e)) for c, e in pairs], dtype=np.float64)

    def readings(self, claim: str, evidence: str) -> list[Reading]:
        """Where the claim says the opposite of its best-aligned evidence sentence, contradicted:
        its antonym words; else its negation cues; else (the evidence negates) its word for
        the one the evidence's cue negates. Nothing when the polarity agrees or too little
        of the claim aligns to compare."""
        a = self.analyse(claim, evidence)
        if a["coverage"] < self.min_overlap or not a["flipped"]:
            return []
        strength = (a["coverage"] - self.min_overlap) / (1 - self.min_overlap)
        claim_words = words(claim)
        if len(a["swaps"]) % 2 == 1:
            stems = {c for c, _ in a["swaps"]}
            hits = [w for w in claim_words if w.stem in stems]
        elif a["claim_negations"]:
            hits = [w for w in claim_words if _is_cue(w)]
        else:
            sentence = words(a["sentence"])
            cues = [i for i, w in enumerate(sentence) if _is_cue(w)]
            negated = [w.stem for i in cues[:1] for w in sentence[i + 1 :] if w.content][:1]
            hits = [w for w in claim_words if w.stem in negated]
        other = a["sentence"][:160]
        score = 0.5 + 0.4 * strength
        return [Reading(w.start, w.end, "contradicted", score, other, "negation") for w in hits]

    def spans(self, pair: Pair) -> list[Span]:
        """The claim's words that flip the polarity of what the evidence says."""
        return to_spans(pair[0], self.readings(*pair))

    def explain(self, pair: Pair) -> str:
        """Why: the aligned sentence, its coverage, and any polarity flip."""
        a = self.analyse(*pair)
        head = f"best evidence sentence covers {a['coverage']:.0%} of the claim's words"
        if a["coverage"] < self.min_overlap:
            return head + "; too little overlap to compare polarity"
        if a["swaps"]:
            head += "; antonyms: " + ", ".join(f"{c}/{e}" for c, e in a["swaps"])
        neg = f"negations claim={a['claim_negations']} evidence={a['evidence_negations']}"
        return f"{head}; {neg}; " + ("polarity flipped" if a["flipped"] else "same polarity")


def _is_cue(word: Word) -> bool:
    return word.lower in NEGATION_CUES or word.lower.endswith("n't")
