"""The evidence gate: every claim has evidence or is marked no_evidence; scores in range."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
    check("ExpectColumnValuesToBeBetween", "evidence_text", column="text_chars", min_value=1),
)


@dataclass
class EvidenceRows:
    """What the evidence gate reads of a run's claims and evidence, and nothing more: a row per
    claim (its evidence status) and per evidence chunk (owner, score, rank, text length).

    A run keeps these rows, batch after batch, instead of the evidence itself (texts and
    metadata), so a 10,000-item run does not hold every window it read until its gates run.
    """

    claims: pd.DataFrame
    chunks: pd.DataFrame

    @classmethod
    def of(cls, claims: Sequence[Claim], evidence: Mapping[str, list[Evidence]]) -> EvidenceRows:
        """The rows of ``claims`` and the ``evidence`` listed under claim ids."""
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
                    [ev.score if np.isfinite(ev.score) else None for _, ev in rows],
                    dtype="float64",
                ),
                "rank": [ev.rank for _, ev in rows],
                "text_chars": [len(ev.text) for _, ev in rows],
            }
        )
        return cls(claim_frame, chunk_frame)

    @classmethod
    def concat(cls, parts: Sequence[EvidenceRows]) -> EvidenceRows:
        """The rows of several batches as one."""
        if not parts:
            return cls.of([], {})
        return cls(
            pd.concat([p.claims for p in parts], ignore_index=True),
            pd.concat([p.chunks for p in parts], ignore_index=True),
        )


def check_evidence(claims: Sequence[Claim], evidence: Mapping[str, list[Evidence]]) -> GateOutcome:
    """Validate retrieved evidence; ``failed_ids`` are claim ids (``check_evidence_rows``)."""
    return check_evidence_rows(EvidenceRows.of(claims, evidence))


def check_evidence_rows(rows: EvidenceRows) -> GateOutcome:
    """Validate a run's evidence rows; ``failed_ids`` are claim ids.

    Rules: ``has_evidence`` (the claim is a key of the evidence; an empty list marks it
    ``no_evidence``, which passes), ``evidence_owner`` (listed under its own claim id),
    ``score_finite``, ``score_range`` (quality.min/max_evidence_score), ``rank`` (>= 0),
    ``evidence_text`` (not empty).
    """
    settings = get_settings().quality
    outcome = GateOutcome()
    if not rows.claims.empty:
        outcome.extend(
            *validate_frame(
                "evidence", "claims", rows.claims, EVIDENCE_CLAIM_CHECKS, {}, "claim_id"
            )
        )
    if not rows.chunks.empty:
        parameters = {
            "min_score": settings.min_evidence_score,
            "max_score": settings.max_evidence_score,
        }
        outcome.extend(
            *validate_frame(
                "evidence", "chunks", rows.chunks, EVIDENCE_CHUNK_CHECKS, parameters, "listed_under"
            )
        )
    return outcome
