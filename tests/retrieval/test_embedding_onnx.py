"""The embedder through ONNX Runtime: the torch model's vectors and token vectors (fp32), close
to them (int8), exported once per home, and a claim not padded to its window's length."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

from retrieval import embedding
from retrieval.embedding_onnx import embedding_onnx_path, length_groups
from verdictflow.config import get_settings, reset_settings

TEXTS = [
    "The Fjell S1 weighs 1.1 kilograms.",
    "The Fjell S1 is a speaker designed in Oslo and first sold in 2019. It weighs 1.1 kilograms "
    "and plays for up to 20 hours on a single charge. It charges over USB-C in about two hours.",
    "  leading and trailing spaces  ",
    "Ünïcödé café — naïve résumé, 42%.",
    " ".join(["The valley farm keeps goats and some sheep."] * 60),  # over 256 tokens
]


def _fresh() -> None:
    embedding.vector_cache.clear()
    embedding.token_cache.clear()


@pytest.fixture
def backend(home, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Switch ``retrieval.embedding_backend`` (caches emptied) in a fresh home (its exports
    stay there); torch again afterwards."""

    def use(name: str) -> None:
        monkeypatch.setenv("VERDICTFLOW_RETRIEVAL__EMBEDDING_BACKEND", name)
        reset_settings()
        _fresh()

    yield use
    monkeypatch.delenv("VERDICTFLOW_RETRIEVAL__EMBEDDING_BACKEND", raising=False)
    reset_settings()
    embedding.load_onnx_encoder.cache_clear()  # its files lived in this test's home
    _fresh()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def test_onnx_gives_the_torch_vectors_and_token_vectors(backend) -> None:
    backend("torch")
    vectors = embedding.embed_texts(TEXTS, keep_tokens=True)
    tokens = embedding.token_vectors(TEXTS)
    backend("onnx")
    assert embedding.onnx_encoder() is not None
    onnx = embedding.embed_texts(TEXTS, keep_tokens=True)
    assert onnx.dtype == np.float32 and onnx.shape == vectors.shape
    np.testing.assert_allclose(onnx, vectors, atol=1e-5)
    # The texts read whole keep their token vectors from the same pass; the long one is read
    # in windows by token_vectors, through ONNX Runtime too.
    assert (
        all(t in embedding.token_cache for t in TEXTS[:-1])
        and TEXTS[-1] not in embedding.token_cache
    )
    for ours, theirs in zip(embedding.token_vectors(TEXTS), tokens, strict=True):
        np.testing.assert_array_equal(ours.offsets, theirs.offsets)
        np.testing.assert_allclose(ours.vectors, theirs.vectors, atol=1e-4)
    _fresh()
    np.testing.assert_allclose(embedding.embed_texts(TEXTS), onnx, atol=1e-6)  # without tokens


def test_the_export_is_cached_under_the_home(backend) -> None:
    backend("onnx")
    embedding.embed_texts(TEXTS[:1])
    file = embedding_onnx_path(embedding.packaged_model_path(), "onnx")
    assert file.exists() and file.is_relative_to(get_settings().home / "models" / "onnx")
    stamp = file.stat().st_mtime_ns
    embedding.load_onnx_encoder.cache_clear()
    _fresh()
    embedding.embed_texts(TEXTS[:1])
    assert file.stat().st_mtime_ns == stamp  # loaded again, not exported again


def test_int8_stays_close_to_the_torch_vectors(backend) -> None:
    backend("torch")
    vectors = embedding.embed_texts(TEXTS)
    backend("onnx-int8")
    quantised = embedding.embed_texts(TEXTS)
    assert _cosines(quantised, vectors).min() >= 0.98


def test_texts_share_a_pass_only_with_texts_of_similar_length() -> None:
    # A claim is not padded to its window's length; similar lengths go together, in batches.
    assert length_groups([18, 67], 64) == [[0], [1]]
    assert length_groups([60, 18, 62, 61], 64) == [[1], [0, 3, 2]]
    assert length_groups([10] * 5, 2) == [[0, 1], [2, 3], [4]]
    assert length_groups([], 8) == []


def test_auto_serves_the_export_when_the_home_has_it_and_reads_config_not_the_model(
    backend,
) -> None:
    backend("auto")
    assert embedding.onnx_encoder() is None  # nothing exported: torch, and auto never exports
    backend("torch")
    vectors = embedding.embed_texts(TEXTS)
    backend("onnx")
    embedding.embed_texts(TEXTS[:1])  # exports
    backend("auto")
    encoder = embedding.onnx_encoder()
    assert encoder is not None and encoder.file.name == "model.onnx"
    assert (encoder.dim, encoder.max_length) == (384, 256)  # from the folder's config files
    assert embedding.embedding_dim() == 384 and embedding.max_seq_length() == 256
    np.testing.assert_allclose(embedding.embed_texts(TEXTS), vectors, atol=1e-5)


def test_a_folder_is_read_as_mean_pooled_only_when_its_config_says_so(tmp_path) -> None:
    import json
    import shutil

    from retrieval.embedding_onnx import PooledFolder, mean_pooled_folder

    src = embedding.packaged_model_path()
    assert mean_pooled_folder(src) == PooledFolder(384, 256)
    folder = tmp_path / "cls"
    shutil.copytree(src, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(
        json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True})
    )
    assert mean_pooled_folder(folder) is None
    assert mean_pooled_folder(tmp_path / "missing") is None
