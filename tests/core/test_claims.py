from verdictflow.claims import split_claims, split_sentences
from verdictflow.contracts import Item


def test_abbreviations_and_numbers_do_not_split_sentences():
    text = (
        "Dr. Smith paid $3.50 for the U.S. edition on Jan. 5, 2024. "
        "The Aurora X2 costs 1,299.99 EUR, e.g. in Oslo, and runs firmware 2.0.1."
    )
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "Dr. Smith paid $3.50 for the U.S. edition on Jan. 5, 2024.",
        "The Aurora X2 costs 1,299.99 EUR, e.g. in Oslo, and runs firmware 2.0.1.",
    ]


def test_claims_keep_offsets_and_ids():
    item = Item(
        id="a", text="  First claim is here.  Is this a question? Second claim is here too. "
    )
    claims = split_claims(item)
    assert [c.claim_id for c in claims] == ["a:0", "a:1"]
    for claim in claims:
        assert item.text[claim.start : claim.end] == claim.text
    assert claims[1].text == "Second claim is here too."


def test_fragments_and_questions_only_still_give_one_claim():
    item = Item(id="q", text="Really?", context="ctx")
    claims = split_claims(item)
    assert len(claims) == 1
    assert claims[0].text == "Really?"
    assert claims[0].context == "ctx"


def test_text_without_punctuation_is_one_claim():
    item = Item(id="n", text="the speaker weighs 1.1 kilograms and plays for 20 hours")
    assert [c.text for c in split_claims(item)] == [item.text]


def _long_text() -> str:
    sentences = [
        f"Dr. Smith says the Fjell S{i} weighs {i}.5 kilograms. Is it light? It plays {i} hours."
        for i in range(60)
    ]
    return "\n\n".join(" ".join(sentences[i : i + 3]) for i in range(0, 60, 3))


def test_a_long_text_split_in_blocks_gives_the_claims_of_the_whole(home, monkeypatch):
    from verdictflow.config import reset_settings

    text = _long_text()
    whole = split_claims(Item(id="w", text=text))
    monkeypatch.setenv("VERDICTFLOW_VERIFY__SPLIT_BLOCK_CHARS", "500")
    reset_settings()
    blocks = split_claims(Item(id="w", text=text))
    assert len(text) > 10 * 500 and len(whole) == 120
    assert [(c.start, c.end, c.text) for c in blocks] == [(c.start, c.end, c.text) for c in whole]
    for claim in blocks:
        assert text[claim.start : claim.end] == claim.text


def test_claims_exceed_counts_only_as_far_as_the_limit(home, monkeypatch):
    from verdictflow import claims as claims_module
    from verdictflow.claims import claims_exceed
    from verdictflow.config import reset_settings

    text = _long_text()  # 120 claims
    assert claims_exceed(text, 119) and not claims_exceed(text, 120)
    monkeypatch.setenv("VERDICTFLOW_VERIFY__SPLIT_BLOCK_CHARS", "500")
    reset_settings()
    segmented: list[int] = []
    real = claims_module._segmenter

    class Counting:
        def segment(self, block):
            segmented.append(len(block))
            return real().segment(block)

    monkeypatch.setattr(claims_module, "_segmenter", Counting)
    assert claims_exceed(text * 20, 5)
    assert sum(segmented) <= 1000  # a block or two of a 100 KB text
