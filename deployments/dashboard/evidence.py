"""Evidence shown in its source document: where the chunk sits, as HTML with the span marked.

A context chunk's source is the item's own context (chunk ids ``context:<item>#<i>``); a
corpus chunk's source is its document rebuilt from the LanceDB chunks, each stored with its
character offsets (``start``/``end``) in the document. A verification window cut from a
chunk (``<chunk_id>@w<j>``) is found inside its chunk's span.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)
WINDOW_CHARS = 1200  # characters of the document shown on each side of the span


@dataclass(frozen=True)
class Located:
    """A span in a document: ``document[start:end]`` is the evidence."""

    document: str
    start: int
    end: int
    where: str  # "item context", "document <id>"


def similarity_note(evidence: dict[str, Any]) -> str:
    """The title's note of the claim's cosine similarity to the evidence (0 to 1), as in
    " · similarity 0.62"; empty for evidence stored before similarities were."""
    value = evidence.get("similarity")
    return "" if value is None else f" · similarity {value:.2f}"


def base_chunk_id(chunk_id: str) -> str:
    """The stored chunk a verification window was cut from (itself when whole)."""
    return chunk_id.split("@w", 1)[0]


def rebuild_document(chunks: list[Any]) -> str:
    """A document's text from its chunks and their offsets (gaps filled with spaces)."""
    if not chunks:
        return ""
    size = max(int(c.end) for c in chunks)
    buffer = [" "] * size
    for c in chunks:
        buffer[int(c.start) : int(c.start) + len(c.text)] = list(c.text)
    return "".join(buffer[:size])


def find_span(document: str, text: str, hint: int = 0) -> tuple[int, int] | None:
    """Where ``text`` occurs in ``document``: the first occurrence from ``hint``, else
    anywhere, else its stripped form; None when it is not there."""
    for needle in (text, text.strip()):
        if not needle:
            continue
        at = document.find(needle, max(0, hint))
        if at < 0:
            at = document.find(needle)
        if at >= 0:
            return at, at + len(needle)
    return None


def corpus_chunks(doc_id: str) -> list[Any]:
    """The stored chunks of a corpus document, in order ([] without a chunk store)."""
    try:
        from retrieval.store import ChunkStore

        store = ChunkStore()
        if not store.exists():
            return []
        return store.get_chunks({"doc_id": doc_id})
    except Exception:  # a missing or unreadable store: the evidence is shown on its own
        log.warning("chunks of %s could not be read", doc_id, exc_info=True)
        return []


def locate(evidence: dict[str, Any], context: str | None) -> Located | str:
    """The evidence's span in its source document, or why it cannot be shown there."""
    text = evidence["text"]
    if evidence.get("origin") == "context":
        if not context:
            return "the item's context is not stored"
        found = find_span(context, text)
        if found is None:
            return "the chunk is not in the item's stored context"
        return Located(context, *found, "item context")
    chunks = corpus_chunks(evidence["doc_id"])
    if not chunks:
        return f"document {evidence['doc_id']} is not in the chunk store (deleted, or another home)"
    document = rebuild_document(chunks)
    base = base_chunk_id(evidence["chunk_id"])
    hint = next((int(c.start) for c in chunks if c.chunk_id == base), 0)
    found = find_span(document, text, hint)
    if found is None:
        return (
            f"document {evidence['doc_id']} has changed since this run: the evidence is not "
            "in its current text"
        )
    return Located(document, *found, f"document {evidence['doc_id']}")


def highlighted(located: Located, window: int = WINDOW_CHARS, colour: str = "#fff176") -> str:
    """HTML of the document around the span, the span marked (``<mark>``)."""
    doc, start, end = located.document, located.start, located.end
    lo, hi = max(0, start - window), min(len(doc), end + window)
    before = ("…" if lo > 0 else "") + doc[lo:start]
    after = doc[end:hi] + ("…" if hi < len(doc) else "")
    return (
        '<div class="vf-source" style="white-space: pre-wrap; max-height: 22em; overflow-y: auto;'
        ' border: 1px solid #ddd; border-radius: 6px; padding: 0.6em; font-size: 0.92em;">'
        f"{html.escape(before)}"
        f'<mark class="vf-evidence" style="background: {colour}; padding: 0 2px;">'
        f"{html.escape(doc[start:end])}</mark>"
        f"{html.escape(after)}</div>"
    )


def span_marks(text: str, claims: list[dict[str, Any]]) -> list[tuple[int, int, str]]:
    """Where the claims' unsupported or contradicted words sit in the item's text:
    ``(start, end, kind)``, by start.

    A span's offsets are into its claim's text, the claim's into the item's (found by its text
    when the claim's offsets are not stored); a span whose words are not there is left out."""
    marks: list[tuple[int, int, str]] = []
    for claim in claims:
        base = claim.get("start")
        if base is None:
            base = text.find(claim.get("text") or "\0")
            if base < 0:
                continue
        for span in claim.get("spans") or []:
            start, end = int(base) + int(span["start"]), int(base) + int(span["end"])
            if text[start:end] != span.get("text", text[start:end]):
                start = text.find(span["text"], int(base))
                end = start + len(span["text"])
            if 0 <= start < end <= len(text):
                marks.append((start, end, str(span["kind"])))
    return sorted(marks)


def marked_spans(text: str, marks: list[tuple[int, int, str]], colours: dict[str, str]) -> str:
    """HTML of an item's text with only the marked words highlighted (``<mark>``) in their
    kind's colour; overlapping marks are cut where the earlier one ends."""
    pieces: list[str] = []
    pos = 0
    for start, end, kind in sorted(marks):
        start = max(start, pos)
        if end <= start:
            continue
        colour = colours.get(kind, "#888")
        pieces.append(html.escape(text[pos:start]))
        pieces.append(
            f'<mark class="vf-span" data-kind="{html.escape(kind)}" title="{html.escape(kind)}" '
            f'style="background: {colour}33; border-bottom: 2px solid {colour};">'
            f"{html.escape(text[start:end])}</mark>"
        )
        pos = end
    pieces.append(html.escape(text[pos:]))
    style = "white-space: pre-wrap; line-height: 1.6;"
    return f'<div class="vf-item" style="{style}">{"".join(pieces)}</div>'
