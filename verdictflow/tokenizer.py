"""A model folder's fast tokenizer through the ``tokenizers`` library alone.

transformers' ``AutoTokenizer`` runs the same ``tokenizer.json`` but importing it imports torch
(about two seconds of a cold start); the ONNX paths (``verdictflow.onnx_files``) need only the
token ids, so they read them here. Each configuration (truncation length, padding) is its own
``tokenizers.Tokenizer``, set once: a shared instance is never reconfigured between threads.
Tests check the ids and offsets against transformers' tokenizer of the same folder.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def has_tokenizer(folder: Path) -> bool:
    """Whether ``folder`` holds a ``tokenizer.json`` this module can read."""
    return (Path(folder) / "tokenizer.json").is_file()


@functools.lru_cache(maxsize=32)
def _tokenizer(folder: str, max_length: int | None, pad: bool):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    if max_length:
        tokenizer.enable_truncation(max_length, strategy="longest_first")
    if pad:
        pad_token = _pad_token(Path(folder))
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id(pad_token), pad_token=pad_token)
    return tokenizer


def _pad_token(folder: Path) -> str:
    config = folder / "tokenizer_config.json"
    token = json.loads(config.read_text()).get("pad_token") if config.exists() else None
    return token if isinstance(token, str) else "[PAD]"


def pair_features(
    folder: Path, first: Sequence[str], second: Sequence[str], max_length: int
) -> dict[str, np.ndarray]:
    """(first, second) pairs as a cross-encoder reads them: special tokens, ``longest_first``
    truncation at ``max_length``, padded to the longest; int64 arrays by input name."""
    tokenizer = _tokenizer(str(folder), max_length, True)
    encodings = tokenizer.encode_batch(list(zip(first, second, strict=True)))
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


def encode_texts(
    folder: Path, texts: Sequence[str], max_length: int | None = None, special: bool = True
):
    """Each text's ``tokenizers.Encoding`` (ids, offsets, special-tokens mask), unpadded, cut
    at ``max_length`` tokens when given."""
    return _tokenizer(str(folder), max_length, False).encode_batch(
        list(texts), add_special_tokens=special
    )
