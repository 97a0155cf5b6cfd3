"""The numbers expert: a claim's value that differs from the evidence's value for the same
thing (same kind of quantity, same surrounding words) is a contradiction.

For every number, date, amount or counted quantity in the claim it looks for comparable
quantities in the evidence (same dimension after unit conversion, "3 km" = "3,000 m"; "ten
minutes" = "a 10-minute charge") and aligns them by the words around them in their sentence
(a table row, a clause), most of all the word next to each (what it quantifies). Each claim
quantity gets its own evidence quantity (a one-to-one assignment), so a claim value that the
evidence states is not set against another value of the same window (the 349 EUR of one
price-list row against the 4.99 EUR of another). An aligned pair with equal values backs the claim,
an aligned pair with different values contradicts it, and a claim value with no aligned
counterpart leaves the pair without enough information. A claim with no numbers gets no
opinion (uniform probabilities), which the gate learns to ignore.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from experts.base import Pair
from experts.verifiers.quantities import (
    Quantity,
    comparable,
    find_quantities,
    same_value,
    sentence_bounds,
)
from experts.verifiers.spans import Reading, differing, to_spans, words
from experts.verifiers.text import content_tokens, coverage
from verdictflow.contracts import Span

UNIFORM = (1 / 3, 1 / 3, 1 / 3)
# An equal value wins a near tie: the claim may be paraphrasing one of several.
EQUAL_BONUS = 0.15
# How far around an evidence quantity, within its paragraph, the claim's words are looked for.
BROAD_CHARS = 200
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# How much of their sentences two different values, each the only one of its kind, must
# share to be read as the same thing.
UNIQUE_MIN_LOCAL = 0.25
# How much of their sentences two quantities must share for the words of the paragraph
# around the evidence's (the subject named a sentence before) to add to their alignment.
SAME_SENTENCE = 0.4


@dataclass(frozen=True)
class Finding:
    """What became of one claim quantity."""

    claim: Quantity
    status: str  # "match" | "mismatch" | "missing"
    evidence: Quantity | None
    alignment: float


def _local(q: Quantity, r: Quantity) -> float:
    """How well the words of ``r``'s sentence match those around the claim's ``q``: the
    share of ``q``'s words found, and (a quarter) of ``r``'s words found near ``q`` (a
    price-list row about another product has other words)."""
    if not q.context:
        return 0.0
    back = coverage(r.context, q.context) if r.context else 0.0
    return 0.75 * coverage(q.context, r.context) + 0.25 * back


def _near_text(evidence: str, r: Quantity) -> str:
    """The evidence around ``r``: its sentence and ``BROAD_CHARS`` either side, within its
    paragraph."""
    end = r.start + len(r.text)
    first, last = sentence_bounds(evidence, r.start, end)
    breaks = [m.end() for m in PARAGRAPH_BREAK.finditer(evidence, 0, r.start)]
    para_start = breaks[-1] if breaks else 0
    after = PARAGRAPH_BREAK.search(evidence, end)
    para_end = after.start() if after else len(evidence)
    lo = max(para_start, min(first, r.start - BROAD_CHARS))
    return evidence[lo : min(para_end, max(last, end + BROAD_CHARS))]


def _alignment(
    q: Quantity, r: Quantity, claim_words: set[str], evidence: str, unique: bool, equal: bool
) -> float:
    """How surely ``r`` is the claim's ``q``: the words of their sentences, raised by the
    claim's words in ``r``'s paragraph when the sentences agree (``SAME_SENTENCE``: "It plays
    for up to 20 hours" about the Fjell S1 named before), else the better of the two; likelier
    the same when each is the only quantity of its kind on its side and, for another value,
    their sentences share words (``UNIQUE_MIN_LOCAL``: a two-year warranty is not the seven
    years spare parts are sold for). Halved when one is a rate ("per month") and the other
    is not."""
    broad = coverage(claim_words, content_tokens(_near_text(evidence, r)))
    local = _local(q, r)
    if local >= SAME_SENTENCE:  # the sentence says what is measured, the paragraph of what
        align = local + (1.0 - local) * 0.6 * broad
    else:
        align = max(local, 0.6 * broad)
    if unique and (equal or local >= UNIQUE_MIN_LOCAL):
        align = max(align, 0.4 + 0.4 * broad)
    if (q.per is None) != (r.per is None):
        align *= 0.5
    return align


class NumbersExpert:
    """Compares the claim's numbers, dates and quantities with the evidence's."""

    def __init__(
        self,
        name: str = "numbers",
        domains: tuple[str, ...] = (),
        min_alignment: float = 0.4,
    ) -> None:
        self.name = name
        self.domains = domains
        self.min_alignment = min_alignment

    def findings(self, claim: str, evidence: str) -> list[Finding]:
        """Each claim quantity with its aligned evidence quantity and the verdict on it.

        Claim and evidence quantities are paired one to one (``linear_sum_assignment`` over
        the alignments, an equal value ahead by ``EQUAL_BONUS``, near ties to the pair whose
        sentences and next words agree most). A claim quantity left
        without a pair of its own is backed by an equal evidence value aligned to it, if
        any (the claim may say one thing twice), else the evidence lacks it.
        """
        claim_words = set(content_tokens(claim))
        ev_quantities = find_quantities(evidence)
        claim_quantities = find_quantities(claim)
        n, m = len(claim_quantities), len(ev_quantities)
        align = np.full((n, m), -1.0)
        equal = np.zeros((n, m), dtype=bool)
        tie_break = np.zeros((n, m))
        for i, q in enumerate(claim_quantities):
            rivals = [j for j, r in enumerate(ev_quantities) if comparable(q, r)]
            unique = len(rivals) == 1 and sum(comparable(q, o) for o in claim_quantities) == 1
            for j in rivals:
                r = ev_quantities[j]
                equal[i, j] = same_value(q, r)
                align[i, j] = _alignment(q, r, claim_words, evidence, unique, equal[i, j])
                # Of near ties, the one whose sentence and next words are the claim's.
                near = coverage(q.near, r.near) if q.near else 0.0
                tie_break[i, j] = 0.05 * (_local(q, r) + near)
        preference = np.where(align >= 0, align + EQUAL_BONUS * equal + tie_break, -1.0)
        paired: dict[int, int] = {}
        if n and m:
            rows, cols = linear_sum_assignment(preference, maximize=True)
            paired = {int(i): int(j) for i, j in zip(rows, cols, strict=True) if align[i, j] >= 0}
        out = []
        for i, q in enumerate(claim_quantities):
            if not (align[i] >= 0).any():
                out.append(Finding(q, "missing", None, 0.0))
                continue
            j = paired.get(i)
            if j is None:
                backing = np.where(equal[i] & (align[i] >= self.min_alignment), align[i], -1.0)
                if backing.max() >= 0:
                    j = int(backing.argmax())
                    out.append(Finding(q, "match", ev_quantities[j], float(align[i, j])))
                else:
                    j = int(align[i].argmax())
                    out.append(Finding(q, "missing", ev_quantities[j], 0.0))
                continue
            a, r = float(align[i, j]), ev_quantities[j]
            if a < self.min_alignment:
                out.append(Finding(q, "missing", r, a))
            else:
                out.append(Finding(q, "match" if equal[i, j] else "mismatch", r, a))
        return out

    def _probs(self, findings: list[Finding]) -> tuple[float, float, float]:
        if not findings:
            return UNIFORM
        mismatches = [f.alignment for f in findings if f.status == "mismatch"]
        matches = [f.alignment for f in findings if f.status == "match"]
        if mismatches:
            p_con = 0.5 + 0.45 * max(mismatches)
            p_sup = 0.05 * len(matches) / len(findings)
            return (p_sup, p_con, 1.0 - p_con - p_sup)
        share = len(matches) / len(findings)
        if share == 1.0:
            p_sup = 0.55 + 0.35 * min(matches)
            return (p_sup, 0.04, 0.96 - p_sup)
        p_sup = 0.15 + 0.3 * share
        return (p_sup, 0.05, 0.95 - p_sup)

    def predict(self, pairs: Sequence[Pair]) -> np.ndarray:
        """Probabilities over (supported, contradicted, not_enough_info), one row per pair."""
        if not pairs:
            return np.zeros((0, 3))
        return np.array([self._probs(self.findings(c, e)) for c, e in pairs], dtype=np.float64)

    def readings(self, claim: str, evidence: str) -> list[Reading]:
        """Each claim quantity as read against the evidence: an equal value is supported,
        another value contradicted (over the words that differ: "45" of "45 hours" against
        "38 hours"), a value the evidence does not state unsupported."""
        have = {w.lower for w in words(evidence)}
        out = []
        for f in self.findings(claim, evidence):
            start, end = f.claim.start, f.claim.start + len(f.claim.text)
            other = f.evidence.text if f.evidence is not None else ""
            if f.status == "match":
                out.append(Reading(start, end, "supported", f.alignment, other, "numbers"))
            elif f.status == "mismatch":
                start, end = differing(claim, start, end, other)
                score = 0.5 + 0.45 * f.alignment
                out.append(Reading(start, end, "contradicted", score, other, "numbers"))
            elif any(w.numeric for w in words(claim[start:end]) if w.lower not in have):
                # A value the evidence does not state; one it states (in another unit or
                # sense) is left to the words around it.
                start, end = differing(claim, start, end, evidence)
                score = 1.0 - 0.5 * f.alignment
                out.append(Reading(start, end, "unsupported", score, other, "numbers"))
        return out

    def spans(self, pair: Pair) -> list[Span]:
        """The claim's values the evidence contradicts or lacks."""
        return to_spans(pair[0], self.readings(*pair))

    def explain(self, pair: Pair) -> str:
        """Why: each claim quantity and what the evidence says of it."""
        findings = self.findings(*pair)
        if not findings:
            return "the claim states no number, date or quantity"
        parts = []
        for f in findings:
            if f.status == "missing":
                parts.append(f"claim value {f.claim.text!r} has no counterpart in the evidence")
            else:
                word = "agrees with" if f.status == "match" else "differs from"
                parts.append(
                    f"claim value {f.claim.text!r} {word} evidence value {f.evidence.text!r} "
                    f"(alignment {f.alignment:.2f})"
                )
        return "; ".join(parts)
