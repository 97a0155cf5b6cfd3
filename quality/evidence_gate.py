"""The evidence gate: every claim has evidence or is marked no_evidence; scores in range."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from quality.gx_runtime import check, validate_frame
from quality.outcome import GateOutcome
from verdictflow.config import get_settings
from verdictflow.contracts import Claim, Evidence

EVIDENCE_CLAIM_CHECKS = (
    check(
        "ExpectColumnValuesToBeInSet",
        "has_evidence",
        column="evidence_status",
        value_set=["evidence", "no_evidence"],
    ),
)
EVIDENCE_CHUNK_CHECKS = (
    check(
        "ExpectColumnPairValuesToBeEqual",
        "evidence_owner",
        column_A="claim_id",
        column_B="listed_under",
    ),
    check("ExpectColumnValuesToNotBeNull", "score_finite", column="score"),
    check(
        "ExpectColumnValuesToBeBetween",
        "score_range",
        column="score",
        min_value="$min_score",
        max_value="$max_score",
    ),
    check("ExpectColumnValuesToBeBetween", "rank", column="rank", min_value=0),
    check("ExpectColumnValueLengthsToBeBetween", "evidence_text", column="text", min_value=1),
)


def check_evidence(claims: Sequence[Claim], evidence: Mapping[str, list[Evidence]]) -> GateOutcome:
    """Validate retrieved evidence; ``failed_ids`` are claim ids.

    Rules: ``has_evidence`` (the claim is a key of ``evidence``; an empty list marks it
    ``no_evidence``, which passes), ``evidence_owner`` (listed under its own claim id),
    ``score_finite``, ``score_range`` (quality.min/max_evidence_score), ``rank`` (>= 0),
    ``evidence_text`` (not empty).
    """
    settings = get_settings().quality
    claim_frame = pd.DataFrame(
        {
            "claim_id": [c.claim_id for c in claims],
            "evidence_status": [
                "missing"
                if c.claim_id not in evidence
                else ("evidence" if evidence[c.claim_id] else "no_evidence")
                for c in claims
            ],
        }
    )
    rows = [(key, ev) for key, chunk_list in evidence.items() for ev in chunk_list]
    chunk_frame = pd.DataFrame(
        {
            "claim_id": [ev.claim_id for _, ev in rows],
            "listed_under": [key for key, _ in rows],
            "score": pd.Series(
                [ev.score if np.isfinite(ev.score) else None for _, ev in rows], dtype="float64"
            ),
            "rank": [ev.rank for _, ev in rows],
            "text": [ev.text for _, ev in rows],
        }
    )
    outcome = GateOutcome()
    if not claim_frame.empty:
        outcome.extend(
            *validate_frame(
                "evidence", "claims", claim_frame, EVIDENCE_CLAIM_CHECKS, {}, "claim_id"
            )
        )
    if not chunk_frame.empty:
        parameters = {
            "min_score": settings.min_evidence_score,
            "max_score": settings.max_evidence_score,
        }
        outcome.extend(
            *validate_frame(
                "evidence", "chunks", chunk_frame, EVIDENCE_CHUNK_CHECKS, parameters, "listed_under"
            )
        )
    return outcome
