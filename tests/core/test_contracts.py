"""The record rules on the contracts: each bad case names its rule; stored rows load back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.quality import quality_data as data
from verdictflow.config import reset_settings
from verdictflow.contracts import STORED, ClaimVerdict, Item, ItemVerdict, Span, VerdictLabel
from verdictflow.inputs import coerce_items


@pytest.fixture
def settings_env(home, monkeypatch: pytest.MonkeyPatch):
    def set_env(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"VERDICTFLOW_{key}", value)
        reset_settings()

    return set_env


def _rule(exc: pytest.ExceptionInfo) -> str:
    return exc.value.errors()[0]["type"]


ITEM_CASES = [
    ({}, {"id": "blank", "text": "   \n "}, "text"),
    ({}, {"id": "bad\x07id", "text": "Some text."}, "id"),
    ({}, {"id": "surrogate", "text": "A lone \udc00 surrogate."}, "encoding"),
    ({}, {"id": "ctx-surrogate", "text": "Fine text.", "context": "\ud800"}, "encoding"),
    ({"QUALITY__MAX_ID_CHARS": "10"}, {"id": "i" * 11, "text": "Some text."}, "id"),
    ({"VERIFY__MAX_ITEM_CHARS": "60"}, {"id": "long", "text": "x" * 61}, "max_size"),
    ({"QUALITY__MIN_ITEM_CHARS": "20"}, {"id": "short", "text": "Too short."}, "text_length"),
    (
        {"VERIFY__MAX_ITEM_CHARS": "60"},
        {"id": "ctx", "text": "ok text", "context": "c" * 61},
        "max_size",
    ),
    (
        {"QUALITY__ALLOWED_METADATA_KEYS": '["source"]'},
        {"id": "meta", "text": "Some text.", "metadata": {"source": "a", "secret": 1}},
        "allowed_metadata",
    ),
]


@pytest.mark.parametrize(("env", "record", "rule"), ITEM_CASES)
def test_an_item_breaking_a_rule_names_it(settings_env, env, record, rule) -> None:
    settings_env(**env)
    with pytest.raises(ValidationError) as exc:
        Item(**record)
    assert _rule(exc) == rule
    # Parsing names the record and the rule; the good records go on.
    items, errors = coerce_items(
        [{"id": "good", "text": "Paris is the capital of France."}, record]
    )
    assert [i.id for i in items] == ["good"]
    assert [(e.line, e.item_id, e.rule) for e in errors] == [(2, record["id"], rule)]


def test_good_items_pass_every_rule(settings_env) -> None:
    settings_env(QUALITY__ALLOWED_METADATA_KEYS='["source"]', QUALITY__MIN_ITEM_CHARS="5")
    item = Item(id="x", text="Fine text.", metadata={"source": "web"})
    assert item.text == "Fine text."


def test_stored_items_load_whatever_the_limits_are_now(settings_env) -> None:
    settings_env(QUALITY__MIN_ITEM_CHARS="50")
    row = {"id": "old", "text": "Short, from before the limit.", "context": None}
    with pytest.raises(ValidationError):
        Item.model_validate(row)
    assert Item.model_validate(row, context=STORED).id == "old"


VERDICT_CASES = [
    ({"probs": (0.7, 0.2, 0.2)}, "prob_sum"),
    ({"probs": (1.2, -0.1, -0.1)}, "prob_range"),
    ({"probs": (0.8, 0.1, 0.1), "p_supported": 0.3}, "p_supported"),
    ({"probs": (0.8, 0.1, 0.1), "label": VerdictLabel.CONTRADICTED}, "label_consistent"),
    ({"probs": (0.2, 0.1, 0.7), "label": VerdictLabel.SUPPORTED}, "label_consistent"),
    # Abstained claims must say uncertain, and uncertain claims must have abstained.
    ({"probs": (0.8, 0.1, 0.1), "abstained": True}, "label_consistent"),
    ({"probs": (0.8, 0.1, 0.1), "label": VerdictLabel.UNCERTAIN}, "label_consistent"),
]


@pytest.mark.parametrize(("changes", "rule"), VERDICT_CASES)
def test_a_claim_verdict_breaking_a_rule_names_it(home, changes, rule) -> None:
    good = data.claim_verdict("bad", (0.8, 0.1, 0.1)).model_dump()
    good["p_supported"] = changes.get("probs", good["probs"])[0]
    with pytest.raises(ValidationError) as exc:
        ClaimVerdict(**{**good, **changes})
    assert _rule(exc) == rule


def test_the_label_rule_follows_the_thresholds_but_stored_verdicts_still_load(
    settings_env,
) -> None:
    verdict = data.claim_verdict("a", (0.6, 0.3, 0.1))
    assert verdict.label == VerdictLabel.SUPPORTED
    settings_env(VERIFY__SUPPORT_THRESHOLD="0.7")
    assert ClaimVerdict.label_for(verdict.probs) == VerdictLabel.UNSUPPORTED
    with pytest.raises(ValidationError):
        ClaimVerdict(**verdict.model_dump())
    assert ClaimVerdict.model_validate(verdict.model_dump(), context=STORED) == verdict


def test_the_deciding_claim_is_the_worst_label_then_the_lowest_probability(home) -> None:
    supported = data.claim_verdict("i", (0.9, 0.05, 0.05), claim_id="i:0")
    weak = data.claim_verdict("i", (0.55, 0.4, 0.05), claim_id="i:1")
    unsupported = data.claim_verdict("i", (0.3, 0.1, 0.6), claim_id="i:2")
    contradicted = data.claim_verdict("i", (0.35, 0.6, 0.05), claim_id="i:3")
    item = ItemVerdict(
        item_id="i", label=VerdictLabel.SUPPORTED, p_supported=0.5, claims=[supported, weak]
    )
    assert item.deciding_claim == weak
    item = item.model_copy(update={"claims": [supported, unsupported, contradicted]})
    # contradicted beats unsupported, though unsupported has the lower p_supported
    assert item.deciding_claim == contradicted
    assert (
        ItemVerdict(
            item_id="e", label=VerdictLabel.UNSUPPORTED, p_supported=0, claims=[]
        ).deciding_claim
        is None
    )


SPAN_CASES = [
    ({"start": 3, "end": 3, "text": ""}, "span"),
    ({"start": -1, "end": 2, "text": "Pa"}, "span"),
    ({"text": "Paris"}, "span"),  # not as long as [0, 4)
    ({"score": 1.5}, "span"),
    ({"kind": "wrong"}, "literal_error"),
]


@pytest.mark.parametrize(("changes", "rule"), SPAN_CASES)
def test_a_span_breaking_a_rule_names_it(changes, rule) -> None:
    good = {"start": 0, "end": 4, "text": "Pari", "kind": "unsupported", "score": 0.7}
    with pytest.raises(ValidationError) as exc:
        Span(**{**good, **changes})
    assert _rule(exc) == rule


def test_a_verdict_s_spans_point_at_its_claim_text_and_load_back(home) -> None:
    text = "Zürich is a city."  # "Paris is a city." of the data, in non-ASCII
    city = Span(start=12, end=16, text="city", kind="contradicted", score=0.9)
    verdict = data.claim_verdict("s", (0.1, 0.8, 0.1), text=text, spans=[city])
    assert verdict.text[city.start : city.end] == "city"
    assert ClaimVerdict.model_validate(verdict.model_dump(), context=STORED) == verdict
    for bad in (
        Span(start=0, end=6, text="Zurich", kind="unsupported", score=0.5),  # not the text
        Span(start=14, end=18, text="ty. ", kind="unsupported", score=0.5),  # past its end
    ):
        with pytest.raises(ValidationError) as exc:
            data.claim_verdict("s", (0.1, 0.8, 0.1), text=text, spans=[bad])
        assert _rule(exc) == "span"
