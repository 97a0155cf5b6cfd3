"""The outputs gate over a run: one verdict per item, every verified item covered."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from quality.gx_runtime import check, validate_frame
from quality.outcome import GateOutcome
from verdictflow.contracts import ItemVerdict, VerdictLabel

VERDICT_LABELS = [label.value for label in VerdictLabel]

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


def check_outputs(
    verdicts: Sequence[ItemVerdict], item_ids: Sequence[str] | None = None
) -> GateOutcome:
    """Validate a run's item verdicts; ``failed_ids`` are item ids.

    Rules: ``one_verdict_per_item``, ``label_allowed``, ``prob_range`` and, given the
    ``item_ids`` that were verified, ``every_item_verdict``. Each claim verdict's own rules
    (probabilities, label consistency) are on the ``ClaimVerdict`` contract.
    """
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
