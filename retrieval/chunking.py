"""Sentence-aware chunking under a token budget measured with the embedding tokenizer.

A chunk's ``start``/``end`` are character offsets into the source text, so that
``text[chunk.start:chunk.end] == chunk.text`` always holds and evidence can be shown in place.
Chunks end at a sentence boundary when one lies in the second half of the budget, else at a
word boundary, else anywhere: text with no punctuation and endless words still chunks.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator
from typing import Any

from retrieval.embedding import token_spans
from verdictflow.config import get_settings
from verdictflow.contracts import Chunk

# Long texts are tokenised and sentence-split in segments of about this many characters,
# cut at a paragraph break or whitespace, so that memory stays flat on very long documents.
SEGMENT_CHARS = 50_000
# pysbd is slow on long paragraphs; longer paragraphs are split on a simple rule instead.
PYSBD_MAX_CHARS = 5_000
# A token spanning more characters (the tokenizer's [UNK] for a >100-char "word") counts
# as one token per this many characters.
MAX_TOKEN_CHARS = 16
_SIMPLE_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+")


def text_hash(text: str) -> str:
    """Hex SHA-256 of a text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def sentence_starts(text: str) -> list[int]:
    """Character offsets at which sentences of ``text`` start (pysbd, per paragraph)."""
    starts: list[int] = []
    for para in re.finditer(r"[^\n]+(?:\n(?!\s*\n)[^\n]*)*", text):
        base, body = para.start(), para.group()
        starts.append(base)
        if len(body) > PYSBD_MAX_CHARS:
            starts.extend(base + m.end() for m in _SIMPLE_SENTENCE_END.finditer(body))
            continue
        try:
            spans = _segmenter().segment(body)
        except Exception:  # pysbd fails on odd input: fall back to the simple rule
            starts.extend(base + m.end() for m in _SIMPLE_SENTENCE_END.finditer(body))
            continue
        starts.extend(base + span.start for span in spans[1:])
    return sorted(set(starts))


def _segments(text: str, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) windows of about ``size`` chars, cut at a paragraph break or whitespace."""
    pos, n = 0, len(text)
    while pos < n:
        end = min(pos + size, n)
        if end < n:
            window = text[pos + size // 2 : end]
            cut = window.rfind("\n\n")
            if cut < 0:
                cut = max(window.rfind("\n"), window.rfind(" "))
            if cut >= 0:
                end = pos + size // 2 + cut + 1
        yield pos, end
        pos = end


def _token_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the embedding tokenizer's tokens over ``text`` (no special tokens)."""
    spans: list[tuple[int, int]] = []
    for s, e in token_spans(text):
        if e - s > MAX_TOKEN_CHARS:  # an [UNK] over an endless "word": count it in pieces
            spans.extend((p, min(p + MAX_TOKEN_CHARS, e)) for p in range(s, e, MAX_TOKEN_CHARS))
        elif e > s:
            spans.append((s, e))
    return spans


def _word_start(spans: list[tuple[int, int]], i: int, lo: int) -> int:
    """The largest token index j in (lo, i] that starts a word (not glued to the previous)."""
    for j in range(i, lo, -1):
        if spans[j][0] > spans[j - 1][1]:
            return j
    return i


def _windows(
    spans: list[tuple[int, int]], boundaries: set[int], budget: int, overlap: int
) -> Iterator[tuple[int, int]]:
    """Token windows [a, b) of at most ``budget`` tokens, preferring sentence ends."""
    n = len(spans)
    a = 0
    while a < n:
        hard = min(a + budget, n)
        if hard == n:
            b = n
        else:
            b = next((t for t in range(hard, a + budget // 2, -1) if t in boundaries), 0)
            if not b:
                b = _word_start(spans, hard, a + budget // 2)
        yield a, b
        if b >= n:
            return
        nxt = max(b - overlap, a + 1)
        sentence = next((t for t in range(nxt, b) if t in boundaries), None)
        a = sentence if sentence is not None else max(_word_start(spans, nxt, a), a + 1)


def chunk_spans(
    text: str, chunk_tokens: int | None = None, overlap_tokens: int | None = None
) -> list[tuple[int, int]]:
    """Character spans (start, end) of the chunks of ``text``."""
    settings = get_settings().retrieval
    budget = chunk_tokens or settings.chunk_tokens
    overlap = settings.chunk_overlap_tokens if overlap_tokens is None else overlap_tokens
    if budget < 2:
        raise ValueError(f"chunk_tokens must be at least 2, got {budget}")
    overlap = max(0, min(overlap, budget // 2))
    out: list[tuple[int, int]] = []
    for seg_start, seg_end in _segments(text, SEGMENT_CHARS):
        segment = text[seg_start:seg_end]
        spans = _token_spans(segment)
        if not spans:
            continue
        if len(spans) <= budget:  # one chunk: no sentence end to look for (pysbd is slow)
            out.append((seg_start + spans[0][0], seg_start + spans[-1][1]))
            continue
        starts = sentence_starts(segment)
        token_starts = [s for s, _ in spans]
        boundaries: set[int] = set()
        k = 0
        for ch in starts:  # token index of the first token at or after each sentence start
            while k < len(token_starts) and token_starts[k] < ch:
                k += 1
            if 0 < k < len(spans):
                boundaries.add(k)
        for a, b in _windows(spans, boundaries, budget, overlap):
            out.append((seg_start + spans[a][0], seg_start + spans[b - 1][1]))
    return out


def chunk_text(
    text: str,
    doc_id: str,
    source: str = "",
    metadata: dict[str, Any] | None = None,
    chunk_tokens: int | None = None,
    overlap_tokens: int | None = None,
) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``chunk_tokens`` embedding tokens, with overlap.

    Args:
        text: The document text.
        doc_id: Id of the document; chunk ids are ``f"{doc_id}#{i}"``.
        source: Where the document came from (path or URL), copied to each chunk.
        metadata: Copied to each chunk.
        chunk_tokens: Token budget; default ``settings.retrieval.chunk_tokens``.
        overlap_tokens: Tokens shared by neighbours; default ``chunk_overlap_tokens``.

    Returns:
        Chunks in document order, ``text[c.start:c.end] == c.text``, no vectors yet.
    """
    meta = dict(metadata or {})
    chunks = []
    for i, (start, end) in enumerate(chunk_spans(text, chunk_tokens, overlap_tokens)):
        piece = text[start:end]
        chunks.append(
            Chunk(
                doc_id=doc_id,
                chunk_id=f"{doc_id}#{i}",
                text=piece,
                content_hash=text_hash(piece),
                source=source,
                start=start,
                end=end,
                metadata=meta,
            )
        )
    return chunks
