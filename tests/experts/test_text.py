"""The fast experts' text helpers: the stop words they drop."""

from __future__ import annotations

from experts.verifiers.stop_words import ENGLISH_STOP_WORDS
from experts.verifiers.text import content_tokens, stem


def test_the_stop_words_are_scikit_learns() -> None:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as ORIGINAL

    assert ENGLISH_STOP_WORDS == ORIGINAL


def test_content_tokens_drop_stop_words_and_keep_content() -> None:
    tokens = set(content_tokens("The tower was not built before the war in Paris"))
    assert not {"the", "was", "before", "in", "not"} & tokens
    assert {stem("tower"), stem("war"), stem("paris")} <= tokens
