"""Shared text helpers of the fast experts: tokens, content words, negation cues, overlap."""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable

from experts.verifiers.stop_words import ENGLISH_STOP_WORDS

TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?|[%$€£]")

# Words that negate the statement they are in (sklearn's stop words hold some of them,
# so content_tokens keeps them out and negation is counted separately).
NEGATION_CUES = frozenset(
    {
        "not",
        "no",
        "never",
        "none",
        "nobody",
        "nothing",
        "neither",
        "nor",
        "nowhere",
        "without",
        "cannot",
        "false",
        "lacks",
        "lack",
        "lacked",
        "denied",
        "denies",
        "deny",
        "refused",
        "refuses",
        "failed",
        "fails",
        "fail",
        "unable",
        "absent",
    }
)
STOP_WORDS = (
    frozenset(ENGLISH_STOP_WORDS) | NEGATION_CUES | {"s", "t", "did", "does", "doing", "done"}
)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; "n't" contractions become the token "not"."""
    out: list[str] = []
    for tok in TOKEN_RE.findall(text):
        low = tok.lower().replace("’", "'")
        if low.endswith("n't"):
            stem = low[:-3]
            out.extend([{"ca": "can", "wo": "will", "sha": "shall"}.get(stem, stem), "not"])
        else:
            out.append(low)
    return out


def stem(word: str) -> str:
    """A light suffix stripper: "increased", "increases" and "increase" all give "increas"."""
    if word.endswith("'s"):
        word = word[:-2]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("ss"):
        return word
    for suffix in ("ing", "ed", "es", "e", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_tokens(text: str) -> list[str]:
    """Stemmed tokens that are neither stop words nor negation cues."""
    return [stem(t) for t in tokens(text) if t not in STOP_WORDS and not t.isdigit()]


def negation_count(text: str) -> int:
    """How many negation cues the text holds."""
    return sum(1 for t in tokens(text) if t in NEGATION_CUES)


def coverage(needles: Iterable[Hashable], haystack: Iterable[Hashable]) -> float:
    """Share of distinct ``needles`` that occur in ``haystack`` (1.0 when there are none)."""
    wanted = set(needles)
    if not wanted:
        return 1.0
    return len(wanted & set(haystack)) / len(wanted)


def sentences(text: str, clauses: bool = True) -> list[str]:
    """A cheap sentence split on terminal punctuation (for locating the relevant sentence);
    ``clauses`` also splits at semicolons."""
    parts = re.split(r"(?<=[.!?;])\s+" if clauses else r"(?<=[.!?])\s+", text.strip())
    return [p for p in parts if p]


def best_sentence(claim: str, evidence: str, clauses: bool = True) -> tuple[str, float]:
    """The evidence sentence that covers most of the claim's content words, and that coverage.
    ``clauses=False`` keeps clauses joined by semicolons together (a negation in the second
    clause, "...; they do not support aptX", is about the subject of the first)."""
    claim_tokens = content_tokens(claim)
    best, best_cov = evidence, -1.0
    for sent in sentences(evidence, clauses) or [evidence]:
        cov = coverage(claim_tokens, content_tokens(sent))
        if cov > best_cov:
            best, best_cov = sent, cov
    return best, max(best_cov, 0.0)


def excerpt(evidence: str, claim: str, max_words: int) -> str:
    """The evidence sentences sharing most content words with the claim, in source order.

    Sentences are taken best-first (most shared content words, over sqrt of their length)
    while they fit in ``max_words`` words: a long source then fits a cross-encoder's token
    budget with the part the claim is about, and the rest of the budget with other context.
    """
    sents = sentences(evidence)
    if len(evidence.split()) <= max_words or len(sents) < 2:
        return evidence
    claim_tokens = set(content_tokens(claim))
    scored = []
    for i, sent in enumerate(sents):
        toks = content_tokens(sent)
        overlap = len(claim_tokens & set(toks)) / (len(toks) ** 0.5 + 1.0)
        scored.append((-overlap, i))
    keep, used = [], 0
    for _, i in sorted(scored):
        n = len(sents[i].split())
        if used + n > max_words and keep:
            continue
        keep.append(i)
        used += n
        if used >= max_words:
            break
    return " ".join(sents[i] for i in sorted(keep))
