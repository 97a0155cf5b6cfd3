"""Split an item's text into claims: one checkable sentence each, with offsets.

Sentence boundaries come from pysbd (rule-based, handles abbreviations such as "Dr." and "e.g.",
decimals such as "3.50", versions such as "2.0.1"). Questions and fragments shorter than
``settings.verify.min_claim_chars`` are not claims.
"""

from __future__ import annotations

import functools

from verdictflow.config import get_settings
from verdictflow.contracts import Claim, Item


@functools.lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences in ``text``, whitespace trimmed."""
    spans = []
    for span in _segmenter().segment(text):
        start, end = span.start, span.end
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def split_claims(item: Item, min_chars: int | None = None) -> list[Claim]:
    """The claims of one item, in order; ``claim_id`` is ``"<item_id>:<index>"``.

    An item whose text has no checkable sentence (all questions or fragments) still yields its
    whole text as one claim, so that every item gets a verdict.
    """
    min_chars = get_settings().verify.min_claim_chars if min_chars is None else min_chars
    spans = [
        (s, e)
        for s, e in split_sentences(item.text)
        if e - s >= min_chars and not item.text[s:e].endswith("?")
    ]
    if not spans:
        stripped = item.text.strip()
        start = item.text.find(stripped)
        spans = [(start, start + len(stripped))]
    return [
        Claim(
            item_id=item.id,
            claim_id=f"{item.id}:{i}",
            index=i,
            text=item.text[s:e],
            start=s,
            end=e,
            context=item.context,
            question=item.question,
        )
        for i, (s, e) in enumerate(spans)
    ]
