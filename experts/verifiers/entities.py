"""The entities expert: are the names in the claim (people, places, organisations, titles)
covered by the evidence, or has one been swapped for another?

No NER model can be downloaded here, so names are found the way English writes them:
runs of capitalised words (with "of", "the", "de" ... inside), acronyms, and a capitalised
sentence-initial word only when it is not a function word. A claim whose names all occur
in the evidence leans supported (more so when the rest of its words do too); a name that is
missing while the evidence sentence that matches the rest of the claim holds a different
name is a substitution, which leans contradicted; a name that is simply absent leaves not
enough information. A claim without names gets no opinion (uniform probabilities).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from experts.base import Pair
from experts.verifiers.spans import Reading, to_spans, words
from experts.verifiers.text import STOP_WORDS, best_sentence, tokens
from verdictflow.contracts import Span

UNIFORM = (1 / 3, 1 / 3, 1 / 3)
CONNECTORS = {"of", "the", "de", "du", "la", "le", "von", "van", "der", "da", "di"}
WORD_RE = re.compile(r"[A-Za-z][\w'’.-]*[\w]|[A-Za-z]|&")
SENTENCE_END = re.compile(r"[.!?:]\s*$")


@dataclass(frozen=True)
class Entity:
    """A name found in text, with its lower-cased word tokens."""

    text: str
    words: tuple[str, ...]
    start: int


def find_entities(text: str) -> list[Entity]:
    """Capitalised names and acronyms in ``text``, in order."""
    found: list[Entity] = []
    run: list[re.Match] = []

    def flush() -> None:
        while run and run[-1].group(0).lower() in CONNECTORS:
            run.pop()
        if run:
            span = text[run[0].start() : run[-1].end()]
            words = tuple(t for t in tokens(span) if t not in CONNECTORS)
            if words:
                found.append(Entity(span, words, run[0].start()))
        run.clear()

    for m in WORD_RE.finditer(text):
        word = m.group(0)
        initial = m.start() == 0 or bool(SENTENCE_END.search(text[: m.start()]))
        capital = word[0].isupper() or word.isupper() and len(word) > 1
        if capital and not (initial and word.lower() in STOP_WORDS):
            if initial and run:
                flush()
            run.append(m)
        elif run and word.lower() in CONNECTORS:
            run.append(m)
        else:
            flush()
    flush()
    return found


def subject_words(claim: str) -> frozenset[str]:
    """The words of the names a claim makes (three letters or more: not "X2" alone)."""
    return frozenset(w for e in find_entities(claim) for w in e.words if len(w) >= 3)


def same_subject(names: frozenset[str], evidence: str, source: str = "") -> bool:
    """Whether ``evidence`` (or its document's name, ``source``) is about what a claim names
    (``subject_words``): true when it names nothing, or when one of those words occurs there."""
    if not names:
        return True
    haystack = set(tokens(f"{evidence} {source.replace('-', ' ').replace('_', ' ')}"))
    return not names.isdisjoint(haystack)


def _covered(entity: Entity, haystack: set[str]) -> float:
    return sum(w in haystack for w in entity.words) / len(entity.words)


class EntitiesExpert:
    """Coverage of the claim's named entities by the evidence, and entity substitutions."""

    def __init__(
        self, name: str = "entities", domains: tuple[str, ...] = (), min_cover: float = 0.5
    ) -> None:
        self.name = name
        self.domains = domains
        self.min_cover = min_cover

    def analyse(self, claim: str, evidence: str) -> dict:
        """The claim's entities split into covered and missing, and substitutes if any."""
        entities = find_entities(claim)
        ev_words = set(tokens(evidence))
        covered = [e for e in entities if _covered(e, ev_words) >= self.min_cover]
        missing = [e for e in entities if _covered(e, ev_words) < self.min_cover]
        sentence, sent_cov = best_sentence(claim, evidence)
        claim_words = set(tokens(claim))
        substitutes = [
            e for e in find_entities(sentence) if _covered(e, claim_words) < self.min_cover
        ]
        return {
            "entities": entities,
            "covered": covered,
            "missing": missing,
            "substitutes": substitutes if missing else [],
            "sentence_coverage": sent_cov,
        }

    def _probs(self, a: dict) -> tuple[float, float, float]:
        if not a["entities"]:
            return UNIFORM
        share = len(a["covered"]) / len(a["entities"])
        rest = a["sentence_coverage"]
        if not a["missing"]:
            p_sup = 0.45 + 0.4 * rest
            return (p_sup, 0.05, 0.95 - p_sup)
        if a["substitutes"] and rest >= 0.3:
            p_con = 0.35 + 0.45 * rest
            return (0.05, p_con, 0.95 - p_con)
        p_sup = 0.1 + 0.2 * share
        return (p_sup, 0.05, 0.95 - p_sup)

    def predict(self, pairs: Sequence[Pair]) -> np.ndarray:
        """Probabilities over (supported, contradicted, not_enough_info), one row per pair."""
        if not pairs:
            return np.zeros((0, 3))
        return np.array([self._probs(self.analyse(c, e)) for c, e in pairs], dtype=np.float64)

    def readings(self, claim: str, evidence: str) -> list[Reading]:
        """Each word of the claim's names: in the evidence, supported; absent where the
        evidence names something else in its place (a substitute for the whole name, or a
        name sharing its other words: "Polar E1" for "Polar E2"), contradicted; else
        unsupported."""
        a = self.analyse(claim, evidence)
        have = {form for w in words(evidence) for form in (w.lower, w.stem)}
        rest = a["sentence_coverage"]
        swapped = bool(a["substitutes"]) and rest >= 0.3
        rivals = [(f.text, {w.lower for w in words(f.text)}) for f in find_entities(evidence)]
        out = []
        for e in a["entities"]:
            parts = [w for w in words(e.text, e.start) if w.lower not in CONNECTORS]
            absent = [w for w in parts if w.lower not in have and w.stem not in have]
            present = {w.lower for w in parts} - {w.lower for w in absent}
            if not absent:
                out.append(
                    Reading(e.start, e.start + len(e.text), "supported", 1.0, e.text, "entities")
                )
                continue
            near = [text for text, ws in rivals if ws & present]
            if e in a["missing"] and swapped:
                kind, score, other = "contradicted", 0.35 + 0.45 * rest, a["substitutes"][0].text
            elif near:
                kind, score, other = "contradicted", 0.5 + 0.4 * rest, near[0]
            else:
                kind, score, other = "unsupported", 0.8, ""
            for w in parts:
                if w in absent:
                    out.append(Reading(w.start, w.end, kind, score, other, "entities"))
                else:
                    out.append(Reading(w.start, w.end, "supported", 1.0, w.text, "entities"))
        return out

    def spans(self, pair: Pair) -> list[Span]:
        """The words of the claim's names that the evidence replaces or lacks."""
        return to_spans(pair[0], self.readings(*pair))

    def explain(self, pair: Pair) -> str:
        """Why: which names the evidence covers, misses, or replaces."""
        a = self.analyse(*pair)
        if not a["entities"]:
            return "the claim names no entity"
        parts = []
        if a["covered"]:
            parts.append("covered: " + ", ".join(e.text for e in a["covered"]))
        if a["missing"]:
            parts.append("missing from the evidence: " + ", ".join(e.text for e in a["missing"]))
        if a["substitutes"]:
            parts.append("evidence names instead: " + ", ".join(e.text for e in a["substitutes"]))
        return "; ".join(parts)
