"""The entities expert on hand-made pairs."""

from __future__ import annotations

import numpy as np

from experts.verifiers.entities import EntitiesExpert, find_entities
from verdictflow.contracts import CONTRADICTED, NOT_ENOUGH_INFO, SUPPORTED

EVIDENCE = "Paris is the capital and largest city of France. It hosted the 1900 Olympics."


def test_find_entities() -> None:
    found = [e.text for e in find_entities("The United States of America met the UN in New York.")]
    assert found == ["United States of America", "UN", "New York"]
    assert [e.text for e in find_entities("In 2019 it rained.")] == []


def test_covered_names_support() -> None:
    expert = EntitiesExpert()
    p = expert.predict([("Paris is the capital of France.", EVIDENCE)])[0]
    assert p.argmax() == SUPPORTED


def test_substituted_name_contradicts_and_is_explained() -> None:
    expert = EntitiesExpert()
    pair = ("Lyon is the capital of France.", EVIDENCE)
    p = expert.predict([pair])[0]
    assert p.argmax() == CONTRADICTED
    why = expert.explain(pair)
    assert "missing from the evidence: Lyon" in why and "Paris" in why


def test_absent_name_is_not_enough_info() -> None:
    expert = EntitiesExpert()
    p = expert.predict([("Angela Merkel visited Tokyo.", "The weather in Berlin was cold.")])[0]
    assert p.argmax() == NOT_ENOUGH_INFO


def test_partial_name_counts_as_covered() -> None:
    expert = EntitiesExpert()
    pair = ("Barack Obama was born in Hawaii.", "Obama was born in Honolulu, Hawaii, in 1961.")
    assert expert.predict([pair])[0].argmax() == SUPPORTED


def test_no_names_no_opinion() -> None:
    p = EntitiesExpert().predict([("the sky is blue.", "the sky is blue.")])
    np.testing.assert_allclose(p[0], [1 / 3] * 3)
