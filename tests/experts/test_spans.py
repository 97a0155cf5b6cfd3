"""Readings and spans: claim words with offsets, joining, and the rule experts' spans."""

from __future__ import annotations

import pytest

from experts.verifiers.entities import EntitiesExpert
from experts.verifiers.negation import NegationExpert
from experts.verifiers.numbers import NumbersExpert
from experts.verifiers.spans import Reading, differing, to_spans, words


def test_words_keep_offsets_in_any_script() -> None:
    text = "Zürich’s café sold 1,500 crêpes — doesn't it? 東京"
    found = words(text)
    assert [w.text for w in found] == [
        "Zürich’s",
        "café",
        "sold",
        "1,500",
        "crêpes",
        "doesn't",
        "it",
        "東京",
    ]
    assert all(text[w.start : w.end] == w.text for w in found)
    assert [w.content for w in found] == [True, True, True, True, True, False, False, True]


def test_neighbours_of_one_kind_join_across_stop_words_and_hyphens_only() -> None:
    claim = "A built-in voice assistant, and a red case."
    at = {w.text: w for w in words(claim)}
    readings = [
        Reading(at[t].start, at[t].end, "unsupported", s)
        for t, s in (("built", 0.6), ("voice", 0.9), ("assistant", 0.7), ("red", 0.8))
    ]
    readings.append(Reading(at["case"].start, at["case"].end, "contradicted", 0.9))
    spans = to_spans(claim, readings)
    assert [(s.text, s.kind, s.score) for s in spans] == [
        ("built-in voice assistant", "unsupported", 0.9),  # no comma inside a span
        ("red", "unsupported", 0.8),
        ("case", "contradicted", 0.9),
    ]


def test_overlaps_keep_the_higher_kind_and_supported_breaks_a_run() -> None:
    claim = "It costs 399 EUR today."
    price = claim.index("399")
    spans = to_spans(
        claim,
        [
            Reading(price, price + 7, "unsupported", 0.7),
            Reading(price, price + 3, "contradicted", 0.9),
            Reading(claim.index("today"), claim.index("today") + 5, "supported", 1.0),
        ],
    )
    assert [(s.text, s.kind) for s in spans] == [("399", "contradicted")]


def test_differing_keeps_the_words_the_other_text_lacks() -> None:
    claim = "It lasts 45 hours."
    start = claim.index("45")
    assert differing(claim, start, start + 8, "38 hours") == (start, start + 2)
    assert differing(claim, start, start + 8, "45 hours") == (start, start + 8)


@pytest.mark.parametrize(
    ("expert", "claim", "evidence", "expected"),
    [
        (
            NumbersExpert(),
            "It lasts 45 hours.",
            "It lasts up to 38 hours.",
            [("45", "contradicted")],
        ),
        (NumbersExpert(), "It lasts 38 hours.", "It lasts up to 38 hours.", []),
        (NumbersExpert(), "It weighs 2 kg.", "It is blue.", [("2 kg", "unsupported")]),
        (
            EntitiesExpert(),
            "The Polar E2 earbuds cost 179 EUR.",
            "The Polar E1 earbuds cost 179 EUR.",
            [("E2", "contradicted")],
        ),
        (
            EntitiesExpert(),
            "Ingrid Solberg founded the company.",
            "Marcus Weber founded the company in 2014.",
            [("Ingrid Solberg", "contradicted")],
        ),
        (
            NegationExpert(),
            "The Fjell S1 does not support aptX.",
            "The Fjell S1 supports aptX and LDAC.",
            [("not", "contradicted")],
        ),
        (
            NegationExpert(),
            "Sales increased in 2020.",
            "Sales decreased in 2020.",
            [("increased", "contradicted")],
        ),
        (NegationExpert(), "Sales increased in 2020.", "Sales increased in 2020.", []),
    ],
)
def test_rule_experts_read_their_spans(expert, claim, evidence, expected) -> None:
    spans = expert.spans((claim, evidence))
    assert [(s.text, s.kind) for s in spans] == expected
    assert all(claim[s.start : s.end] == s.text for s in spans)
