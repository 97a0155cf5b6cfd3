"""The numbers expert: a claim's value that differs from the evidence's value for the same
thing (same kind of quantity, same surrounding words) is a contradiction.

For every number, date, amount or counted quantity in the claim it looks for comparable
quantities in the evidence (same dimension after unit conversion, "3 km" = "3,000 m") and
aligns them by the words around them. An aligned pair with equal values backs the claim,
an aligned pair with different values contradicts it, and a claim value with no aligned
counterpart leaves the pair without enough information. A claim with no numbers gets no
opinion (uniform probabilities), which the gate learns to ignore.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from experts.base import Pair
from experts.verifiers.quantities import Quantity, comparable, find_quantities, same_value
from experts.verifiers.spans import Reading, differing, to_spans, words
from experts.verifiers.text import content_tokens, coverage
from verdictflow.contracts import Span

UNIFORM = (1 / 3, 1 / 3, 1 / 3)


@dataclass(frozen=True)
class Finding:
    """What became of one claim quantity."""

    claim: Quantity
    status: str  # "match" | "mismatch" | "missing"
    evidence: Quantity | None
    alignment: float


def _alignment(
    q: Quantity, r: Quantity, claim_words: set[str], evidence: str, unique: bool
) -> float:
    """How surely ``r`` is the claim's ``q``: the words around both, the claim's words near
    ``r``, and whether each is the only quantity of its kind on its side."""
    local = coverage(q.context, r.context) if q.context else 0.0
    near = evidence[max(0, r.start - 200) : r.start + 200]
    broad = coverage(claim_words, content_tokens(near))
    return max(local, 0.6 * broad, (0.4 + 0.4 * broad) if unique else 0.0)


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
        """Each claim quantity with its best aligned evidence quantity and the verdict on it."""
        claim_words = set(content_tokens(claim))
        ev_quantities = find_quantities(evidence)
        claim_quantities = find_quantities(claim)
        out = []
        for q in claim_quantities:
            rivals = [r for r in ev_quantities if comparable(q, r)]
            unique = len(rivals) == 1 and sum(comparable(q, o) for o in claim_quantities) == 1
            candidates = [
                (_alignment(q, r, claim_words, evidence, unique), same_value(q, r), r)
                for r in rivals
            ]
            if not candidates:
                out.append(Finding(q, "missing", None, 0.0))
                continue
            # An equal value wins a near tie: the claim may be paraphrasing one of several.
            best = max(candidates, key=lambda c: (c[0] + (0.15 if c[1] else 0.0), c[1]))
            align, equal, r = best
            if align < self.min_alignment:
                out.append(Finding(q, "missing", r, align))
            else:
                out.append(Finding(q, "match" if equal else "mismatch", r, align))
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
