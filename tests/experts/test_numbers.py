"""The numbers expert on hand-made pairs."""

from __future__ import annotations

import numpy as np
import pytest

from experts.verifiers.numbers import NumbersExpert
from experts.verifiers.quantities import find_quantities, same_value
from verdictflow.contracts import CONTRADICTED, NOT_ENOUGH_INFO, SUPPORTED

EVIDENCE = "The Eiffel Tower is 330 m tall and was completed in 1889 at a cost of $1.5 million."


@pytest.fixture(scope="module")
def expert() -> NumbersExpert:
    return NumbersExpert()


@pytest.mark.parametrize(
    ("claim", "evidence", "label"),
    [
        ("The Eiffel Tower is 300 metres tall.", EVIDENCE, CONTRADICTED),
        ("The Eiffel Tower was completed in 1899.", EVIDENCE, CONTRADICTED),
        ("The Eiffel Tower is 330 metres tall.", EVIDENCE, SUPPORTED),
        ("The Eiffel Tower is 0.33 km tall.", EVIDENCE, SUPPORTED),
        ("It cost $1,500,000 to build the Eiffel Tower.", EVIDENCE, SUPPORTED),
        ("The Eiffel Tower weighs 7,300 tonnes.", EVIDENCE, NOT_ENOUGH_INFO),
        ("Revenue grew 7% to $3.2 billion.", "Revenue rose 5 percent to $3.2bn.", CONTRADICTED),
        ("Revenue grew 5% to $3.2 billion.", "Revenue rose 5 percent to $3.2bn.", SUPPORTED),
        ("She was born on 3 March 1990.", "She was born on March 5, 1990 in Ohio.", CONTRADICTED),
        ("She was born on 3 March 1990.", "She was born on March 3, 1990 in Ohio.", SUPPORTED),
        ("The trip took 3 hours.", "The trip took 180 minutes.", SUPPORTED),
        ("The population of Lyon is 500,000.", "Lyon is known for its cuisine.", NOT_ENOUGH_INFO),
    ],
)
def test_hand_made_pairs(expert: NumbersExpert, claim: str, evidence: str, label: int) -> None:
    probs = expert.predict([(claim, evidence)])
    assert probs.shape == (1, 3)
    assert np.isclose(probs.sum(), 1.0)
    assert probs[0].argmax() == label, expert.explain((claim, evidence))


def test_changed_number_is_a_contradiction_and_explained(expert: NumbersExpert) -> None:
    pair = (
        "The company had 12,000 employees in 2020.",
        "In 2020 the company had 15,000 employees.",
    )
    p = expert.predict([pair])[0]
    assert p[CONTRADICTED] > 0.8
    why = expert.explain(pair)
    assert "12,000 employees" in why and "15,000 employees" in why and "differs" in why


def test_no_number_gives_no_opinion(expert: NumbersExpert) -> None:
    pair = ("Paris is the capital of France.", "Paris is the capital of France.")
    np.testing.assert_allclose(expert.predict([pair])[0], [1 / 3] * 3)
    assert "no number" in expert.explain(pair)


def test_batch_rows_follow_pairs(expert: NumbersExpert) -> None:
    pairs = [
        ("The Eiffel Tower is 300 metres tall.", EVIDENCE),
        ("The Eiffel Tower is 330 metres tall.", EVIDENCE),
    ]
    batch = expert.predict(pairs)
    np.testing.assert_allclose(batch[0], expert.predict(pairs[:1])[0])
    np.testing.assert_allclose(batch[1], expert.predict(pairs[1:])[0])
    assert expert.predict([]).shape == (0, 3)


def test_units_and_scales_normalise() -> None:
    (a,) = find_quantities("a 2 km bridge")
    (b,) = find_quantities("a 2,000 m bridge")
    (c,) = find_quantities("costs 3.2 billion dollars")
    (d,) = find_quantities("costs $3,200,000,000")
    assert a.dimension == b.dimension == "length" and same_value(a, b)
    assert c.dimension == d.dimension == "usd" and same_value(c, d)
    (e,) = find_quantities("in 1998")
    assert e.dimension == "year"


@pytest.mark.parametrize(
    ("text", "quantities"),
    [
        # Product codes, model names and versions are names, not amounts.
        ("The Aurora X2 weigh 310 grams.", ["310 grams"]),
        ("The Fjell S1 earbuds come with 1 case.", ["1 case"]),
        ("It is rated IP67 and weighs 1.1 kg.", ["1.1 kg"]),
        ("Firmware 3.2 added an equaliser to the Aurora X2.", []),
        ("Version 2.1 of the app needs iOS 15 or Android 10.", []),
        ("A B-52 flew 7,000 km in 11.5 hours.", ["7,000 km", "11.5 hours"]),
        # Amounts stay amounts.
        ("It costs 4.99 EUR a month or 49 EUR a year.", ["4.99 EUR", "49 EUR"]),
        ("Lows of -5 degrees in 2019.", ["5 degrees", "2019"]),
    ],
)
def test_names_and_versions_are_not_quantities(text: str, quantities: list[str]) -> None:
    from experts.verifiers.quantities import find_quantities

    assert [q.text for q in find_quantities(text)] == quantities


def test_a_model_name_does_not_make_a_claim_contradicted() -> None:
    expert = NumbersExpert()
    claim = "The Aurora X2 weigh 254 grams."
    evidence = "The Aurora X2 weigh 254 grams and come with a hard case."
    assert expert.predict([(claim, evidence)])[0].argmax() == 0
    assert "2 weigh" not in expert.explain((claim, evidence))


# The demo corpus's price list and headphone text (examples/demo/corpus).
PRICE_LIST = """# Price list (valid from 1 January 2025)

| Product | Price |
|---|---|
| Aurora X2 headphones | 349 EUR |
| Fjell S1 speaker | 199 EUR |
| Polar E1 earbuds | 179 EUR |
| Replacement ear cushions for Aurora X2 | 29 EUR |
| Nordlicht Plus subscription | 4.99 EUR per month |

All prices include VAT. Students receive a 15 percent discount on headphones and earbuds."""
HEADPHONES = (
    "The Aurora X2 are over-ear wireless headphones with active noise cancellation.\n"
    "The battery lasts up to 38 hours with noise cancellation switched on and up to 52 hours "
    "with it off.\nA 10-minute charge over USB-C gives about 5 hours of playback."
)


def test_a_price_is_read_against_its_own_row_of_a_price_list(expert: NumbersExpert) -> None:
    pair = ("The Aurora X2 cost 349 EUR including VAT.", PRICE_LIST)
    assert expert.predict([pair])[0].argmax() == SUPPORTED, expert.explain(pair)
    assert "agrees with evidence value '349 EUR'" in expert.explain(pair)
    assert expert.spans(pair) == []
    wrong = ("The Aurora X2 cost 399 EUR.", PRICE_LIST)
    assert expert.predict([wrong])[0].argmax() == CONTRADICTED
    assert "differs from evidence value '349 EUR'" in expert.explain(wrong)
    assert [(s.text, s.kind) for s in expert.spans(wrong)] == [("399", "contradicted")]


def test_a_monthly_price_is_not_a_yearly_one(expert: NumbersExpert) -> None:
    # The list states 4.99 EUR per month and no yearly price: nothing contradicts the claim.
    pair = ("Nordlicht Plus costs 4.99 EUR a month or 49 EUR a year.", PRICE_LIST)
    assert expert.predict([pair])[0].argmax() != CONTRADICTED, expert.explain(pair)
    assert "'4.99 EUR' agrees" in expert.explain(pair)
    month, year = find_quantities("4.99 EUR per month, 49 EUR a year")
    assert month.per and year.per and not same_value(month, year)
    # Rates compare per unit of time: 4.99 EUR a month is 59.88 EUR a year.
    assert same_value(month, find_quantities("59.88 EUR per year")[0])
    assert same_value(year, find_quantities("49 EUR per year")[0])


def test_number_words_and_hyphenated_quantities_match_their_digits(
    expert: NumbersExpert,
) -> None:
    pair = ("Ten minutes of charging gives the Aurora X2 about 5 hours of playback.", HEADPHONES)
    assert expert.predict([pair])[0].argmax() == SUPPORTED, expert.explain(pair)
    why = expert.explain(pair)
    assert "'Ten minutes' agrees with evidence value '10-minute'" in why
    assert "'5 hours' agrees with evidence value '5 hours'" in why
    assert expert.spans(pair) == []
    # A changed duration is still a contradiction, of the value it changed.
    wrong = (
        "Twenty minutes of charging gives the Aurora X2 about 5 hours of playback.",
        HEADPHONES,
    )
    assert expert.predict([wrong])[0].argmax() == CONTRADICTED
    assert "'Twenty minutes' differs from evidence value '10-minute'" in expert.explain(wrong)
    assert [(s.text, s.kind) for s in expert.spans(wrong)] == [("Twenty", "contradicted")]


def test_an_agreeing_value_is_not_contradicted_by_another_of_its_sentence(
    expert: NumbersExpert,
) -> None:
    pair = ("The Aurora X2 headphones last up to 38 hours with noise cancellation on.", HEADPHONES)
    assert expert.predict([pair])[0].argmax() == SUPPORTED, expert.explain(pair)
    wrong = ("The Aurora X2 headphones last up to 45 hours with noise cancellation on.", HEADPHONES)
    assert expert.predict([wrong])[0].argmax() == CONTRADICTED
    assert "differs from evidence value '38 hours'" in expert.explain(wrong)


@pytest.mark.parametrize(
    ("text", "value", "dimension"),
    [
        ("A 10-minute charge", 600.0, "time"),
        ("Ten minutes of charging", 600.0, "time"),
        ("a two-year limited warranty", 2 * 31557600.0, "time"),
        ("twenty-five countries", 25.0, "count:country"),
        ("a five-band equaliser", 5.0, "count:band"),
    ],
)
def test_number_words_and_hyphens_read_as_quantities(
    text: str, value: float, dimension: str
) -> None:
    (q,) = find_quantities(text)
    assert (q.value, q.dimension) == (value, dimension)
