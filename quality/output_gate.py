"""The outputs gate: probabilities valid, labels allowed and consistent, one verdict per item."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from quality.gx_runtime import check, validate_frame
from quality.outcome import GateOutcome
from verdictflow.config import get_settings
from verdictflow.contracts import LABELS, ItemVerdict, VerdictLabel

VERDICT_LABELS = [label.value for label in VerdictLabel]

OUTPUT_CLAIM_CHECKS = (
    *(
        check("ExpectColumnValuesToBeBetween", "prob_range", column=c, min_value=0, max_value=1)
        for c in ("p_" + label for label in LABELS)
    ),
    check(
        "ExpectColumnValuesToBeBetween",
        "prob_sum",
        column="prob_sum_error",
        min_value=0,
        max_value="$tolerance",
    ),
    check(
        "ExpectColumnValuesToBeBetween",
        "p_supported",
        column="p_supported_error",
        min_value=0,
        max_value="$tolerance",
    ),
    check("ExpectColumnValuesToBeInSet", "label_allowed", column="label", value_set=VERDICT_LABELS),
    check(
        "ExpectColumnPairValuesToBeEqual",
        "label_consistent",
        column_A="label",
        column_B="expected_label",
    ),
)
OUTPUT_ITEM_CHECKS = (
    check("ExpectColumnValuesToBeUnique", "one_verdict_per_item", column="item_id"),
    check("ExpectColumnValuesToBeInSet", "label_allowed", column="label", value_set=VERDICT_LABELS),
    check(
        "ExpectColumnValuesToBeBetween",
        "prob_range",
        column="p_supported",
        min_value=0,
        max_value=1,
    ),
)
OUTPUT_COVERAGE_CHECKS = (
    check(
        "ExpectColumnValuesToBeInSet", "every_item_verdict", column="has_verdict", value_set=[True]
    ),
)


def _expected_label(probs: tuple[float, float, float], abstained: bool) -> str:
    from experts.uncertainty import threshold_label

    if abstained:
        return VerdictLabel.UNCERTAIN.value
    try:
        return threshold_label(probs).value
    except (TypeError, IndexError):
        return "invalid"


def check_outputs(
    verdicts: Sequence[ItemVerdict], item_ids: Sequence[str] | None = None
) -> GateOutcome:
    """Validate verdicts; ``failed_ids`` are item ids.

    Rules: ``prob_range``, ``prob_sum`` (within quality.prob_tolerance of 1), ``p_supported``
    (equals probs[0]), ``label_allowed``, ``label_consistent`` (uncertain exactly when abstained,
    else the label the thresholds give), ``one_verdict_per_item`` and, given the ``item_ids``
    that were verified, ``every_item_verdict``.
    """
    return GateOutcome.merged(check_output_claims(verdicts), check_output_items(verdicts, item_ids))


def check_output_claims(verdicts: Sequence[ItemVerdict]) -> GateOutcome:
    """The claim-level half of ``check_outputs`` (the fast path runs the halves side by side)."""
    tolerance = get_settings().quality.prob_tolerance
    claims = [c for v in verdicts for c in v.claims]
    claim_frame = pd.DataFrame(
        {
            "item_id": [c.item_id for c in claims],
            "claim_id": [c.claim_id for c in claims],
            **{f"p_{label}": [float(c.probs[k]) for c in claims] for k, label in enumerate(LABELS)},
            "prob_sum_error": [abs(sum(c.probs) - 1.0) for c in claims],
            "p_supported_error": [abs(c.p_supported - c.probs[0]) for c in claims],
            "label": [c.label.value for c in claims],
            "expected_label": [_expected_label(c.probs, c.abstained) for c in claims],
        }
    )
    outcome = GateOutcome()
    if not claim_frame.empty:
        params = {"tolerance": tolerance}
        outcome.extend(
            *validate_frame(
                "outputs", "claims", claim_frame, OUTPUT_CLAIM_CHECKS, params, "item_id"
            )
        )
    return outcome


def check_output_items(
    verdicts: Sequence[ItemVerdict], item_ids: Sequence[str] | None = None
) -> GateOutcome:
    """The item-level half of ``check_outputs``: one verdict per item, every item covered."""
    item_frame = pd.DataFrame(
        {
            "item_id": [v.item_id for v in verdicts],
            "label": [v.label.value for v in verdicts],
            "p_supported": [float(v.p_supported) for v in verdicts],
        }
    )
    outcome = GateOutcome()
    if not item_frame.empty:
        outcome.extend(
            *validate_frame("outputs", "items", item_frame, OUTPUT_ITEM_CHECKS, {}, "item_id")
        )
    if item_ids is not None and len(item_ids):
        seen = set(item_frame["item_id"])
        coverage = pd.DataFrame(
            {"item_id": list(item_ids), "has_verdict": [i in seen for i in item_ids]}
        )
        outcome.extend(
            *validate_frame("outputs", "coverage", coverage, OUTPUT_COVERAGE_CHECKS, {}, "item_id")
        )
    return outcome
