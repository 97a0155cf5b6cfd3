"""The tokenizers-only reader of a model's tokens gives transformers' ids and offsets."""

from __future__ import annotations

import numpy as np

from retrieval.embedding import packaged_model_path
from verdictflow.tokenizer import encode_texts, has_tokenizer, pair_features

TEXTS = [
    "The Fjell S1 weighs 1.1 kg.",
    "Café naïve résumé — “quotes” ½ 10,000 m² Ünïcödé",
    "x" * 300,
    " ".join(["word"] * 400),
    "日本語 and emoji 😀",
    "A\tB\nC  D",
    "",
]
CLAIMS = ["It weighs 2 kg.", "Short.", " ".join(["long"] * 200), "Café?", "q", "z", "Empty"]


def _hf():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(packaged_model_path())


def test_pairs_are_the_cross_encoders_tokens_truncated_longest_first() -> None:
    folder = packaged_model_path()
    assert has_tokenizer(folder)
    ours = pair_features(folder, TEXTS, CLAIMS, 48)
    theirs = _hf()(
        TEXTS, CLAIMS, padding=True, truncation="longest_first", max_length=48, return_tensors="np"
    )
    assert ours["input_ids"].shape == (len(TEXTS), 48)
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        np.testing.assert_array_equal(ours[name], theirs[name])


def test_texts_keep_transformers_offsets_and_special_tokens() -> None:
    folder = packaged_model_path()
    hf = _hf()
    theirs = hf(
        TEXTS,
        truncation=True,
        max_length=256,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
    )
    for i, enc in enumerate(encode_texts(folder, TEXTS, 256)):
        assert enc.ids == theirs["input_ids"][i]
        assert [tuple(o) for o in enc.offsets] == [tuple(o) for o in theirs["offset_mapping"][i]]
        assert enc.special_tokens_mask == theirs["special_tokens_mask"][i]
    (plain,) = encode_texts(folder, [TEXTS[3]], None, special=False)
    assert (
        len(plain.ids) == 400 and plain.ids == hf(TEXTS[3], add_special_tokens=False)["input_ids"]
    )
