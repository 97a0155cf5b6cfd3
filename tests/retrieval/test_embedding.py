"""The embedding cache: each text is encoded once per process, and vectors do not change."""

from __future__ import annotations

import numpy as np

from retrieval import embedding
from verdictflow.config import reset_settings


def _count_encodes(monkeypatch) -> list[list[str]]:
    model = embedding.load_embedder()
    calls: list[list[str]] = []
    real = model.encode

    def encode(texts, **kwargs):
        calls.append(list(texts))
        return real(texts, **kwargs)

    monkeypatch.setattr(model, "encode", encode)
    return calls


def test_repeated_texts_are_encoded_once(monkeypatch) -> None:
    embedding.vector_cache.clear()
    calls = _count_encodes(monkeypatch)
    first = embedding.embed_texts(["alpha claim", "beta chunk", "alpha claim"])
    second = embedding.embed_texts(["beta chunk", "gamma new"])
    assert calls == [["alpha claim", "beta chunk"], ["gamma new"]]
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_allclose(second[0], first[1], atol=1e-6)
    assert second.dtype == np.float32 and second.shape == (2, 384)


def test_cache_is_bounded_and_can_be_turned_off(monkeypatch) -> None:
    embedding.vector_cache.clear()
    monkeypatch.setenv("VERDICTFLOW_RETRIEVAL__EMBED_CACHE_SIZE", "2")
    reset_settings()
    calls = _count_encodes(monkeypatch)
    embedding.embed_texts(["one", "two", "three"])  # "one" is evicted
    embedding.embed_texts(["one", "three"])
    assert calls[-1] == ["one"]
    monkeypatch.setenv("VERDICTFLOW_RETRIEVAL__EMBED_CACHE_SIZE", "0")
    reset_settings()
    embedding.embed_texts(["three"])
    assert calls[-1] == ["three"]
    monkeypatch.delenv("VERDICTFLOW_RETRIEVAL__EMBED_CACHE_SIZE")
    reset_settings()


def _count_forward_texts() -> tuple[list[int], object]:
    """Texts the encoder reads from now on (a forward hook on the real model)."""
    seen: list[int] = []

    def hook(_module, args, kwargs, _output) -> None:
        ids = kwargs.get("input_ids")
        seen.append(len(ids if ids is not None else args[0]))

    encoder = embedding.load_embedder()[0].auto_model
    return seen, encoder.register_forward_hook(hook, with_kwargs=True)


def test_kept_token_vectors_are_not_encoded_again() -> None:
    texts = ["The Fjell S1 weighs 1.1 kilograms.", "It plays for up to 20 hours on a charge."]
    long = " ".join(["The valley farm keeps goats and some sheep."] * 60)  # over 256 tokens
    embedding.vector_cache.clear()
    embedding.token_cache.clear()
    kept = embedding.embed_texts([*texts, long], keep_tokens=True)
    assert all(t in embedding.token_cache for t in texts) and long not in embedding.token_cache
    seen, handle = _count_forward_texts()
    try:
        reused = embedding.token_vectors(texts)
        assert seen == []  # the spans read the windows retrieval encoded
        embedding.token_vectors([long])
        assert seen  # a text cut at the model's limit is read in windows of its own
    finally:
        handle.remove()
    embedding.vector_cache.clear()
    embedding.token_cache.clear()
    plain = embedding.embed_texts([*texts, long])
    np.testing.assert_allclose(kept, plain, atol=1e-6)
    for a, b in zip(reused, embedding.token_vectors(texts), strict=True):
        np.testing.assert_array_equal(a.offsets, b.offsets)
        np.testing.assert_allclose(a.vectors, b.vectors, atol=1e-5)


def test_token_vectors_are_kept_only_for_a_request_that_fits(monkeypatch) -> None:
    monkeypatch.setenv("VERDICTFLOW_RETRIEVAL__TOKEN_CACHE_SIZE", "1")
    reset_settings()
    embedding.vector_cache.clear()
    embedding.token_cache.clear()
    try:
        embedding.embed_texts(["first window", "second window"], keep_tokens=True)
        assert "first window" not in embedding.token_cache
        embedding.embed_texts(["third window"], keep_tokens=True)
        assert "third window" in embedding.token_cache
    finally:
        monkeypatch.delenv("VERDICTFLOW_RETRIEVAL__TOKEN_CACHE_SIZE")
        reset_settings()
