"""The negation expert on hand-made pairs."""

from __future__ import annotations

import pytest

from experts.verifiers.negation import NegationExpert
from experts.verifiers.text import negation_count, tokens
from verdictflow.contracts import CONTRADICTED, NOT_ENOUGH_INFO, SUPPORTED


@pytest.mark.parametrize(
    ("claim", "evidence", "label"),
    [
        (
            "The drug was not approved by the FDA.",
            "The FDA approved the drug in 2019.",
            CONTRADICTED,
        ),
        ("The FDA approved the drug.", "The FDA did not approve the drug.", CONTRADICTED),
        ("Sales didn't increase in 2019.", "Sales increased in 2019.", CONTRADICTED),
        ("Sales decreased in 2019.", "Sales increased in 2019.", CONTRADICTED),
        ("The museum never opens on Mondays.", "The museum is never open on Mondays.", SUPPORTED),
        ("The museum opens on Mondays.", "On Mondays the museum opens at nine.", SUPPORTED),
        (
            "The drug was not approved.",
            "Rain fell over the northern hills all week.",
            NOT_ENOUGH_INFO,
        ),
    ],
)
def test_hand_made_pairs(claim: str, evidence: str, label: int) -> None:
    expert = NegationExpert()
    p = expert.predict([(claim, evidence)])[0]
    assert p.argmax() == label, expert.explain((claim, evidence))


def test_explain_names_the_flip() -> None:
    why = NegationExpert().explain(("Sales did not rise.", "Sales rose."))
    assert "polarity flipped" in why


def test_contractions_count_as_negation() -> None:
    assert tokens("It isn't here") == ["it", "is", "not", "here"]
    assert negation_count("She can't and won't go, nor will he.") == 3


@pytest.mark.parametrize(
    "evidence",
    [
        "The Aurora X2 support the AAC and LDAC codecs; they do not support aptX.",
        "The Aurora X2 does not support aptX.",
        "The Aurora X2 doesn't support aptX.",
        "The Aurora X2 doesn’t support aptX.",
        "The Aurora X2 no longer supports aptX.",
        "The Aurora X2 never supported aptX.",
    ],
)
def test_negations_in_every_form_contradict(evidence: str) -> None:
    from experts.verifiers.text import negation_count

    assert negation_count(evidence) >= 1
    probs = NegationExpert().predict([("The Aurora X2 supports aptX.", evidence)])[0]
    assert probs.argmax() == 1, NegationExpert().explain(("The Aurora X2 supports aptX.", evidence))
