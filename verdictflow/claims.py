"""Split an item's text into claims: one checkable sentence each, with offsets.

Sentence boundaries come from pysbd (rule-based, handles abbreviations such as "Dr." and "e.g.",
decimals such as "3.50", versions such as "2.0.1"). Questions and fragments shorter than
``settings.verify.min_claim_chars`` are not claims. A text longer than
``settings.verify.split_block_chars`` is segmented a block at a time, each block ending at a
paragraph or sentence break (pysbd's time grows faster than the text: 220 KB in one piece took
26 s, in blocks of 20 KB about 5).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from verdictflow.config import get_settings
from verdictflow.contracts import Claim, Item


@functools.lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


# Where a block may end, best first: a paragraph break, a line break, a sentence end.
_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"[.!?][\"')\]]*\s+(?=[A-Z0-9])"))


def _blocks(text: str, size: int) -> Iterator[int]:
    """Start offsets of the blocks ``text`` is segmented in: at most ``size`` characters
    each (unless no break is found), each ending at the last break in its second half."""
    start = 0
    while True:
        yield start
        if size <= 0 or len(text) - start <= size:
            return
        window = text[start + size // 2 : start + size]
        cut = None
        for pattern in _BREAKS:
            ends = [m.end() for m in pattern.finditer(window)]
            if ends:
                cut = start + size // 2 + ends[-1]
                break
        if cut is None:  # no break at all: at the last space, else hard
            space = window.rfind(" ")
            cut = start + size // 2 + space + 1 if space >= 0 else start + size
        start = cut


def _sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) spans of the sentences of ``text``, whitespace trimmed, block by block."""
    size = get_settings().verify.split_block_chars
    starts = list(_blocks(text, size)) if len(text) > size > 0 else [0]
    for i, offset in enumerate(starts):
        end_of_block = starts[i + 1] if i + 1 < len(starts) else len(text)
        block = text[offset:end_of_block]
        for span in _segmenter().segment(block):
            start, end = span.start, span.end
            while start < end and block[start].isspace():
                start += 1
            while end > start and block[end - 1].isspace():
                end -= 1
            if end > start:
                yield offset + start, offset + end


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences in ``text``, whitespace trimmed."""
    return list(_sentence_spans(text))


def _claim_spans(text: str, min_chars: int) -> Iterator[tuple[int, int]]:
    """Spans of the sentences that are claims: long enough and not questions."""
    for s, e in _sentence_spans(text):
        if e - s >= min_chars and not text[s:e].endswith("?"):
            yield s, e


def claims_exceed(text: str, limit: int) -> bool:
    """Whether ``split_claims`` makes more than ``limit`` claims of ``text``; a long text is
    segmented only until it does."""
    min_chars = get_settings().verify.min_claim_chars
    if len(text) < (limit + 1) * max(min_chars, 1):  # n claims take n * min_chars characters
        return False
    return any(n > limit for n, _ in enumerate(_claim_spans(text, min_chars), start=1))


def split_claims(item: Item, min_chars: int | None = None) -> list[Claim]:
    """The claims of one item, in order; ``claim_id`` is ``"<item_id>:<index>"``.

    An item whose text has no checkable sentence (all questions or fragments) still yields its
    whole text as one claim, so that every item gets a verdict.
    """
    min_chars = get_settings().verify.min_claim_chars if min_chars is None else min_chars
    spans = list(_claim_spans(item.text, min_chars))
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
