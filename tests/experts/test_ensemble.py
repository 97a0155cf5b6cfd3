"""Combining expert outputs into claim scores."""

from __future__ import annotations

import numpy as np
import pytest

from experts.mixture.ensemble import best_chunk, combine, mixture
from experts.mixture.routing import top_k_route

NAMES = ["a", "b", "c"]


def test_best_chunk_prefers_support_then_contradiction() -> None:
    assert best_chunk(np.array([[0.2, 0.1, 0.7], [0.6, 0.3, 0.1], [0.8, 0.1, 0.1]])) == 2
    assert best_chunk(np.array([[0.2, 0.1, 0.7], [0.1, 0.6, 0.3], [0.3, 0.2, 0.5]])) == 1
    assert best_chunk(np.array([[0.2, 0.1, 0.7], [0.3, 0.1, 0.6]])) == 1


def test_best_support_rule_takes_the_most_supporting_chunk_over_a_covering_contradiction() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    cover = np.array([0.5, 1.0])
    assert best_chunk(probs, coverage=cover) == 1  # addressing: the covering contradiction
    assert best_chunk(probs, coverage=cover, rule="best_support") == 0
    # off-subject chunks still never decide
    on = np.array([False, True])
    assert best_chunk(probs, on_subject=on, coverage=cover, rule="best_support") == 1


def test_a_chunk_about_something_else_never_decides() -> None:
    probs = np.array([[0.1, 0.8, 0.1], [0.3, 0.2, 0.5]])
    assert best_chunk(probs) == 0  # without the rule, the off-subject contradiction decides
    assert best_chunk(probs, on_subject=np.array([False, True])) == 1
    # No chunk is about the subject: all of them count, as before.
    assert best_chunk(probs, on_subject=np.array([False, False])) == 0


def test_a_chunk_stating_the_opposite_beats_one_that_does_not_mention_it() -> None:
    probs = np.array([[0.6, 0.1, 0.3], [0.2, 0.7, 0.1]])
    assert best_chunk(probs, coverage=np.array([0.5, 1.0])) == 1
    # The supporting chunk holds as much of the claim: support still wins.
    assert best_chunk(probs, coverage=np.array([1.0, 1.0])) == 0
    # Of two contradicting chunks, the one covering more of the claim than the supportive
    # chunk wins, though the other contradicts more strongly (the demo's "59 EUR excess").
    probs = np.array([[0.29, 0.48, 0.23], [0.58, 0.03, 0.39], [0.24, 0.51, 0.25]])
    assert best_chunk(probs, coverage=np.array([1.0, 0.43, 0.43])) == 0


def test_of_chunks_saying_the_same_about_as_strongly_the_one_about_the_claim_decides() -> None:
    # The demo's "The Aurora X2 support aptX.": firmware.md (half the claim's words) scores
    # a little more support than aurora-headphones.md, the passage about the claim.
    probs = np.array([[0.80, 0.14, 0.06], [0.75, 0.21, 0.04], [0.09, 0.03, 0.88]])
    cover = np.array([0.5, 1.0, 0.5])
    assert best_chunk(probs) == 0  # by strength alone
    assert best_chunk(probs, coverage=cover) == 1
    # A clearly stronger chunk still decides; so does a stronger contradiction.
    assert best_chunk(np.array([[0.95, 0.03, 0.02], [0.75, 0.21, 0.04]]), coverage=cover[:2]) == 0
    contra = np.array([[0.1, 0.8, 0.1], [0.2, 0.75, 0.05], [0.1, 0.5, 0.4]])
    assert best_chunk(contra, coverage=np.array([0.3, 0.9, 1.0])) == 1
    # Nothing supports or contradicts: of the near ties, the chunk about the claim is shown.
    nei = np.array([[0.12, 0.03, 0.85], [0.09, 0.03, 0.88], [0.02, 0.0, 0.98]])
    assert best_chunk(nei, coverage=np.array([0.25, 0.75, 0.5])) == 1
    assert best_chunk(nei, coverage=np.array([0.25, 0.75, 0.5]), margin=0.0) == 0


def test_same_subject_reads_names_in_the_chunk_or_its_document() -> None:
    from experts.verifiers.entities import same_subject, subject_words

    claim = subject_words("The Fjell S1 charges in about 3 hours.")
    assert not same_subject(claim, "The Aurora X2 charge in 2 hours over USB-C.", "aurora.md")
    assert same_subject(claim, "It charges over USB-C in about 3 hours.", "fjell-speaker.md")
    assert same_subject(claim, "The Fjell S1 weighs 1.1 kg.")
    assert same_subject(subject_words("It charges in 3 hours."), "anything")  # names nothing
    assert not subject_words("The X2 is light.")  # "X2" alone names nothing
    assert same_subject(subject_words("The X2 is light."), "Nothing in common.")


def test_combine_weights_picks_best_chunk_and_keeps_everything() -> None:
    gate = np.array([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1], [0.1, 0.3, 0.6]])
    routing = top_k_route(gate, k=2)
    outputs = {
        "a": np.array([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8], [np.nan] * 3]),
        "b": np.array([[0.5, 0.1, 0.4], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]]),
        "c": np.array([[np.nan] * 3, [np.nan] * 3, [0.1, 0.8, 0.1]]),
    }
    scores = combine(["x", "y", "z"], [0, 0, 1], ["k1", "k2", "k3"], routing, outputs, NAMES)
    x, y, z = scores
    assert x.best_chunk_id == "k1"
    np.testing.assert_allclose(x.probs, (2 / 3) * outputs["a"][0] + (1 / 3) * outputs["b"][0])
    assert x.experts == pytest.approx({"a": 2 / 3, "b": 1 / 3}, abs=1e-6)
    assert set(x.expert_probs["a"]) == {"k1", "k2"} and "c" not in x.expert_probs
    assert x.spread > 0
    assert y.best_chunk_id == "k3" and y.probs[1] > 0.5 and set(y.experts) == {"b", "c"}
    assert z.best_chunk_id is None and z.probs == (0.0, 0.0, 1.0) and z.experts == {}


def test_a_lost_batch_is_an_error_not_a_silent_zero() -> None:
    routing = top_k_route(np.array([[0.9, 0.1, 0.0]]), k=2)
    outputs = {
        "a": np.array([[0.5, 0.2, 0.3]]),
        "b": np.full((1, 3), np.nan),
        "c": np.zeros((1, 3)),
    }
    with pytest.raises(ValueError, match="'b'"):
        mixture(routing, outputs, NAMES)


def test_an_expert_without_a_reading_abstains() -> None:
    import numpy as np

    from experts.mixture.ensemble import mixture
    from experts.mixture.routing import Routing

    mask = np.array([[True, True], [True, True]])
    weights = np.array([[0.5, 0.5], [0.5, 0.5]])
    routing = Routing(mask=mask, weights=weights, probs=weights, dropped=0)
    outputs = {
        "model": np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1]]),
        "numbers": np.array([[1 / 3, 1 / 3, 1 / 3], [0.1, 0.8, 0.1]]),  # no number in pair 0
    }
    mixed = mixture(routing, outputs, ["model", "numbers"])
    assert np.allclose(mixed[0], [0.9, 0.05, 0.05])  # the uniform vote does not count
    assert np.allclose(mixed[1], [0.15, 0.75, 0.1])  # both read pair 1: the plain mixture
    all_uniform = {name: np.full((2, 3), 1 / 3) for name in outputs}
    assert np.allclose(mixture(routing, all_uniform, ["model", "numbers"]), 1 / 3)
