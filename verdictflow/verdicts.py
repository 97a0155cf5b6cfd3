"""From a claim's calibrated score to its verdict, and from claim verdicts to an item's."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from verdictflow import __version__
from verdictflow.config import get_settings
from verdictflow.contracts import (
    LABELS,
    Claim,
    ClaimVerdict,
    Evidence,
    Item,
    ItemVerdict,
    VerdictLabel,
    deciding_claim,
)


def no_evidence_verdict(claim: Claim) -> ClaimVerdict:
    """A claim nothing in the corpus or context speaks to: unsupported, with certainty."""
    return ClaimVerdict(
        item_id=claim.item_id,
        claim_id=claim.claim_id,
        text=claim.text,
        label=VerdictLabel.UNSUPPORTED,
        probs=(0.0, 0.0, 1.0),
        p_supported=0.0,
        no_evidence=True,
    )


ITEM_RULES = ("weakest", "mean", "product")


def item_p_supported(values: Sequence[float], rule: str = "weakest") -> float:
    """An item's p_supported from its claims': the weakest, their mean, or their product (all
    supported, the claims taken as independent)."""
    if rule not in ITEM_RULES:
        raise ValueError(f"unknown item rule {rule!r}; expected one of {ITEM_RULES}")
    if rule == "weakest":
        return min(values)
    if rule == "mean":
        return sum(values) / len(values)
    return math.prod(values)


def item_verdict(item_id: str, claims: Sequence[ClaimVerdict]) -> ItemVerdict:
    """An item's label is its deciding claim's (worst label, then lowest p_supported); its
    p_supported combines its claims' by ``settings.verify.item_rule`` (``item_p_supported``)."""

    ordered = sorted(claims, key=lambda c: c.claim_id.rsplit(":", 1)[-1].zfill(6))
    return ItemVerdict(
        item_id=item_id,
        label=deciding_claim(ordered).label,
        p_supported=item_p_supported(
            [c.p_supported for c in ordered], get_settings().verify.item_rule
        ),
        claims=ordered,
    )


def group_items(claims: Sequence[ClaimVerdict]) -> list[ItemVerdict]:
    """Item verdicts from claim verdicts, in first-seen item order."""
    by_item: dict[str, list[ClaimVerdict]] = {}
    for claim in claims:
        by_item.setdefault(claim.item_id, []).append(claim)
    return [item_verdict(item_id, group) for item_id, group in by_item.items()]


def output_row(verdict: ItemVerdict, run_id: str) -> dict:
    """The CLI/JSONL output row for one item."""
    return {
        "id": verdict.item_id,
        "verdict": verdict.label.value,
        "p_supported": round(verdict.p_supported, 4),
        "claims": [
            {
                "text": c.text,
                "verdict": c.label.value,
                "p_supported": round(c.p_supported, 4),
                "probs": dict(zip(LABELS, (round(p, 4) for p in c.probs), strict=True)),
                "uncertainty": round(c.uncertainty, 4),
                "abstained": c.abstained,
                "no_evidence": c.no_evidence,
                "experts": {k: round(v, 4) for k, v in c.experts.items()},
                "spans": [span.model_dump() for span in c.spans],
                "evidence": [_evidence_row(e, e.chunk_id == c.best_evidence) for e in c.evidence],
            }
            for c in verdict.claims
        ],
        "run_id": run_id,
    }


def _evidence_row(evidence: Evidence, decisive: bool) -> dict:
    """One evidence of a claim as readers get it: its ``rank`` (1 best) and ``similarity``
    to the claim (cosine, 0 to 1; None for runs stored before it), and the retrieval's own
    ranking score as ``retrieval_score`` (reciprocal rank fusion for hybrid search)."""
    similarity = evidence.similarity
    return {
        "doc_id": evidence.doc_id,
        "chunk_id": evidence.chunk_id,
        "text": evidence.text,
        "rank": evidence.rank,
        "similarity": None if similarity is None else round(similarity, 4),
        "retrieval_score": round(evidence.score, 4),
        "origin": evidence.origin,
        "decisive": decisive,
    }


def run_key(items: Sequence[Item], parameters: dict, source: str | None = None) -> str:
    """A run id from the input as given and how it is checked: the same input and settings,
    the same run. ``source`` is the digest of the raw input (``inputs.input_digest``), so
    inputs that differ only in their bad lines are different runs; without it, the items."""
    digest = hashlib.sha256()
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    if source is not None:
        digest.update(source.encode())
    else:
        for item in items:
            digest.update(item.model_dump_json().encode())
            digest.update(b"\x00")
    return f"run-{digest.hexdigest()[:16]}"


@lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus the git commit when run from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else __version__
