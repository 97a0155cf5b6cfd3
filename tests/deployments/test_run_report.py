"""A run's verdicts against its gold labels: right, caught, missed, false alarms, and what the
demo lists of them."""

from __future__ import annotations

from deployments.run_report import (
    CAUGHT,
    FALSE_ALARM,
    MISSED,
    PASSED,
    listing_line,
    score,
    score_line,
    to_list,
)
from tests.quality import quality_data as data

SUPPORTED, CONTRADICTED, UNSUPPORTED = (0.9, 0.05, 0.05), (0.1, 0.8, 0.1), (0.2, 0.1, 0.7)


def run() -> tuple[list, dict[str, str]]:
    """Six items: verdict probabilities and gold labels chosen for each outcome."""
    cases = [
        ("true-passed", SUPPORTED, "supported"),
        ("false-caught", CONTRADICTED, "contradicted"),
        ("false-missed", SUPPORTED, "contradicted"),
        ("true-flagged", CONTRADICTED, "entailment"),
        ("nei-caught-other-kind", CONTRADICTED, "not_enough_info"),
        ("unlabelled", UNSUPPORTED, None),
    ]
    verdicts = [data.item_verdict(i, probs) for i, probs, _ in cases]
    return verdicts, {i: gold for i, _, gold in cases if gold is not None}


def test_each_labelled_item_is_scored_against_its_gold_label() -> None:
    verdicts, labels = run()
    result = score(verdicts, labels)
    assert result is not None
    assert result.outcomes == {
        "true-passed": PASSED,
        "false-caught": CAUGHT,
        "false-missed": MISSED,
        "true-flagged": FALSE_ALARM,
        "nei-caught-other-kind": CAUGHT,  # flagged, though as the wrong kind: not right
    }
    assert (result.total, result.right, result.n_false, result.n_true) == (5, 2, 3, 2)
    assert score_line(result) == (
        "Against the gold labels: 2 of 5 items right (40%). Of the 3 false items it caught 2 "
        "and missed 1; it flagged 1 of the 2 true items."
    )
    assert score(verdicts, {}) is None


def test_the_list_shows_what_it_caught_and_what_it_missed() -> None:
    verdicts, labels = run()
    result = score(verdicts, labels)
    listed = [v.item_id for v in to_list(verdicts, result)]
    # Grouped by outcome, the unlabelled flagged item last; the true item that passed is out.
    assert listed == [
        "false-caught",
        "nei-caught-other-kind",
        "false-missed",
        "true-flagged",
        "unlabelled",
    ]
    assert listing_line(result, listed, "verdictflow demo --all") == (
        "Listed: 2 caught (false, flagged), 1 missed (false, passed), 1 false alarms (true, "
        "flagged); 1 true items that passed are not listed (`verdictflow demo --all` lists "
        "every item)."
    )
    # Without labels: the flagged items only, in run order.
    assert [v.item_id for v in to_list(verdicts, None)] == [
        "false-caught",
        "true-flagged",
        "nei-caught-other-kind",
        "unlabelled",
    ]
