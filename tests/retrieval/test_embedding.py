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
