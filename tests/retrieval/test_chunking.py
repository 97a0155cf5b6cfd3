"""Chunking: offsets into the source, token budget, overlap, odd text."""

from __future__ import annotations

import functools

import pytest

from retrieval.chunking import chunk_text, text_hash
from retrieval.embedding import packaged_model_path


@functools.cache
def _hf_tokenizer():
    from transformers import AutoTokenizer  # transformers' count: independent of the chunker's

    return AutoTokenizer.from_pretrained(packaged_model_path())


def n_tokens(text: str) -> int:
    return len(_hf_tokenizer()(text, add_special_tokens=False, verbose=False)["input_ids"])


PROSE = (
    "Dr. Smith went to Washington on Jan. 3rd. He arrived at 5 p.m. and met the senator. "
    "They talked about the budget for an hour! Was it useful? Nobody knows.\n\n"
    "The second paragraph starts here. It has a few more sentences about taxes, roads and "
    "schools, which are all expensive. The end."
) * 6


def test_offsets_point_into_the_source_and_cover_it():
    chunks = chunk_text(PROSE, "doc", chunk_tokens=48, overlap_tokens=8)
    assert len(chunks) > 3
    for i, c in enumerate(chunks):
        assert PROSE[c.start : c.end] == c.text
        assert c.chunk_id == f"doc#{i}"
        assert c.content_hash == text_hash(c.text)
        assert n_tokens(c.text) <= 48
    assert chunks[0].start == 0
    assert chunks[-1].end == len(PROSE.rstrip())
    # consecutive chunks overlap or touch: nothing of the text is skipped
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start <= a.end
        assert b.start > a.start


def test_chunks_prefer_sentence_ends():
    chunks = chunk_text(PROSE, "doc", chunk_tokens=48, overlap_tokens=0)
    ends = [c.text[-1] for c in chunks[:-1]]
    assert sum(e in ".!?" for e in ends) >= len(ends) - 1


def test_overlap_shares_text_between_neighbours():
    chunks = chunk_text(PROSE, "doc", chunk_tokens=48, overlap_tokens=12)
    shared = [a.end - b.start for a, b in zip(chunks, chunks[1:], strict=False)]
    assert all(s > 0 for s in shared)


def test_no_punctuation_and_endless_words():
    words = " ".join(f"word{i}" for i in range(3000))
    chunks = chunk_text(words, "w", chunk_tokens=32, overlap_tokens=4)
    assert len(chunks) > 10
    assert all(words[c.start : c.end] == c.text and n_tokens(c.text) <= 32 for c in chunks)
    blob = "x" * 20_000  # one "word" the tokenizer maps to a single [UNK]
    chunks = chunk_text(blob, "b", chunk_tokens=32, overlap_tokens=0)
    assert len(chunks) > 10
    assert "".join(c.text for c in chunks) == blob


def test_very_long_text_in_segments():
    text = ("A sentence about rivers and lakes. " * 40 + "\n\n") * 300  # ~430k chars
    chunks = chunk_text(text, "long")
    assert len(chunks) > 500
    assert all(text[c.start : c.end] == c.text for c in chunks)
    assert chunks[-1].end == len(text.rstrip())


@pytest.mark.parametrize("text", ["", "   \n\t  "])
def test_empty_text_gives_no_chunks(text):
    assert chunk_text(text, "e") == []


def test_metadata_and_source_are_copied():
    (c,) = chunk_text("One short sentence.", "d", source="/x/d.txt", metadata={"domain": "geo"})
    assert c.source == "/x/d.txt" and c.metadata == {"domain": "geo"}
    assert (c.start, c.end) == (0, len("One short sentence."))


def test_budget_too_small_is_refused():
    with pytest.raises(ValueError, match="chunk_tokens"):
        chunk_text("some text", "d", chunk_tokens=1)


def test_a_text_that_fits_is_one_chunk_without_sentence_splitting(monkeypatch):
    from retrieval import chunking

    text = "  Dr. Smith met Mr. Jones in the U.S. on Jan. 5. They spoke for an hour.  "
    spans = chunking._token_spans(text)
    slow = chunking._windows(spans, set(), len(spans), 4)  # the general rule, one window
    expected = [(spans[a][0], spans[b - 1][1]) for a, b in slow]

    def no_sentences(_text: str) -> list[int]:
        raise AssertionError("a text that fits needs no sentence ends")

    monkeypatch.setattr(chunking, "sentence_starts", no_sentences)
    assert chunking.chunk_spans(text, len(spans), 4) == expected == [(2, len(text) - 2)]
    with pytest.raises(AssertionError):  # one token over: sentence ends are looked for
        chunking.chunk_spans(text, len(spans) - 1, 4)
