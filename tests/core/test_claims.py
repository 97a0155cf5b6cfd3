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
