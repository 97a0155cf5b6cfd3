"""The decision stage: calibrate each claim's combined score, abstain when unsure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from experts.decision.calibration import load_calibrator
from experts.decision.conformal import load_conformal
from experts.decision.uncertainty import decide
from verdictflow.contracts import Claim, ClaimScore, ClaimVerdict, Evidence, Span, VerdictLabel
from verdictflow.verdicts import no_evidence_verdict


def verdict_spans(label: VerdictLabel, spans: Sequence[Span]) -> list[Span]:
    """The spans a verdict shows, telling the verdict's story: none on a supported claim
    (its words are backed: a span read against the evidence would say otherwise), every
    span on a contradicted, unsupported or uncertain one."""
    return [] if label is VerdictLabel.SUPPORTED else list(spans)


def decide_claims(
    claims: Sequence[Claim],
    evidence: dict[str, list[Evidence]],
    scores: Sequence[ClaimScore],
    calibrator=None,
    conformal=None,
    spans: Mapping[str, list[Span]] | None = None,
) -> list[ClaimVerdict]:
    """One verdict per claim: calibrated probabilities, the conformal abstention, its evidence
    and its spans (``spans``: claim_id -> spans, ``experts.decision.highlights``; a supported
    claim shows none, ``verdict_spans``).

    ``calibrator`` and ``conformal`` default to the ones fitted in this home (or shipped).
    A claim without evidence or score is unsupported.
    """
    calibrator = calibrator if calibrator is not None else load_calibrator()
    conformal = conformal if conformal is not None else load_conformal()
    by_claim = {s.claim_id: s for s in scores}
    verdicts = []
    for claim in claims:
        score = by_claim.get(claim.claim_id)
        if score is None or not evidence.get(claim.claim_id):
            verdicts.append(no_evidence_verdict(claim))
            continue
        raw = np.asarray([score.probs], dtype=np.float64)
        probs = calibrator.transform(raw)[0] if calibrator else raw[0]
        prediction_set = conformal.prediction_sets(probs[None, :])[0] if conformal else None
        label, abstained = decide(tuple(probs), prediction_set)
        verdicts.append(
            ClaimVerdict(
                item_id=claim.item_id,
                claim_id=claim.claim_id,
                text=claim.text,
                label=label,
                probs=tuple(float(p) for p in probs),
                p_supported=float(probs[0]),
                uncertainty=score.spread,
                abstained=abstained,
                evidence=evidence[claim.claim_id],
                best_evidence=score.best_chunk_id,
                experts=score.experts,
                spans=verdict_spans(label, (spans or {}).get(claim.claim_id, [])),
            )
        )
    return verdicts
