"""The batch gate: the share of unsupported items within bounds; ECE on labelled runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from quality.gx_runtime import check, validate_frame
from quality.outcome import GateOutcome
from verdictflow.config import get_settings
from verdictflow.contracts import ItemVerdict, VerdictLabel, label_index

# Item labels that count towards the batch's unsupported share (its hallucination rate).
UNSUPPORTED_LABELS = (VerdictLabel.UNSUPPORTED.value, VerdictLabel.CONTRADICTED.value)

BATCH_SHARE_CHECKS = (
    check(
        "ExpectColumnMeanToBeBetween",
        "unsupported_share",
        column="unsupported",
        min_value="$min_share",
        max_value="$max_share",
    ),
)
BATCH_ECE_CHECKS = (
    check("ExpectColumnValuesToBeBetween", "ece", column="ece", min_value=0, max_value="$max_ece"),
)


def labelled_probs(
    verdicts: Sequence[ItemVerdict], labels: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated probabilities and gold indices for the labelled verdicts.

    A label keyed by a claim id scores that claim; keyed by an item id, the item's deciding
    claim (``ItemVerdict.deciding_claim``).
    """
    probs: list[tuple[float, float, float]] = []
    gold: list[int] = []
    for verdict in verdicts:
        if not verdict.claims:
            continue
        for claim in verdict.claims:
            if claim.claim_id in labels and claim.claim_id != verdict.item_id:
                probs.append(claim.probs)
                gold.append(label_index(labels[claim.claim_id], "gold label"))
        if verdict.item_id in labels:
            probs.append(verdict.deciding_claim.probs)
            gold.append(label_index(labels[verdict.item_id], "gold label"))
    return np.asarray(probs, dtype=np.float64).reshape(-1, 3), np.asarray(gold, dtype=np.int64)


def calibration_error(
    probs: np.ndarray, gold: np.ndarray
) -> tuple[float, list[tuple[float, float, int]]]:
    """The ECE the batch gate checks, and the reliability bins it is the weighted mean over.

    One definition for every figure of a labelled run (the gate, the dashboard): top-label
    confidence against accuracy in equal-mass bins (``experts.decision.calibration``).

    Args:
        probs: Calibrated probabilities [n, 3] (``labelled_probs``).
        gold: Gold label indices [n].

    Returns:
        The ECE, and (mean confidence, accuracy, count) per bin by rising confidence.
    """
    from experts.decision.calibration import expected_calibration_error, reliability_bins

    return expected_calibration_error(probs, gold), reliability_bins(probs, gold)


def check_batch(
    verdicts: Sequence[ItemVerdict], labels: Mapping[str, Any] | None = None
) -> GateOutcome:
    """Batch expectations; a failure marks the run ``quality_failed``.

    Rules: ``unsupported_share`` (share of items labelled unsupported or contradicted within
    quality.min/max_unsupported_share) and, when ``labels`` (id -> gold label) are given,
    ``ece`` (ECE of the labelled verdicts at most quality.max_ece; checked from
    quality.min_ece_labelled labelled verdicts on: on fewer, ECE is noise).
    """
    settings = get_settings().quality
    outcome = GateOutcome()
    if verdicts:
        frame = pd.DataFrame(
            {
                "item_id": [v.item_id for v in verdicts],
                "unsupported": [float(v.label.value in UNSUPPORTED_LABELS) for v in verdicts],
            }
        )
        parameters = {
            "min_share": settings.min_unsupported_share,
            "max_share": settings.max_unsupported_share,
        }
        outcome.extend(
            *validate_frame("batch", "share", frame, BATCH_SHARE_CHECKS, parameters, None)
        )
    if labels:
        probs, gold = labelled_probs(verdicts, labels)
        if len(gold) >= max(1, settings.min_ece_labelled):
            ece, _ = calibration_error(probs, gold)
            frame = pd.DataFrame({"ece": [ece], "n_labelled": [len(gold)]})
            results, failed = validate_frame(
                "batch", "ece", frame, BATCH_ECE_CHECKS, {"max_ece": settings.max_ece}, None
            )
            observed = {"observed_value": round(ece, 4), "n_labelled": len(gold)}
            results = [r.model_copy(update={"details": {**r.details, **observed}}) for r in results]
            outcome.extend(results, failed)
    return outcome
