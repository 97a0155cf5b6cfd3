"""Small, valid verify-run data for the quality gate tests."""

from __future__ import annotations

from experts.decision.uncertainty import decide
from verdictflow.contracts import Claim, ClaimVerdict, Evidence, Item, ItemVerdict, VerdictLabel

PROBS = [(0.8, 0.1, 0.1), (0.1, 0.8, 0.1), (0.2, 0.1, 0.7), (0.45, 0.3, 0.25)]


def items(n: int = 4) -> list[Item]:
    return [
        Item(id=f"item-{i}", text=f"Item {i} says Paris is the capital of France.", context=None)
        for i in range(n)
    ]


def claims(n: int = 4) -> list[Claim]:
    return [
        Claim(
            item_id=f"item-{i}",
            claim_id=f"item-{i}:0",
            index=0,
            text="Paris is a city.",
            start=0,
            end=16,
        )
        for i in range(n)
    ]


def evidence(n: int = 4) -> dict[str, list[Evidence]]:
    return {
        f"item-{i}:0": [
            Evidence(
                claim_id=f"item-{i}:0",
                doc_id="doc",
                chunk_id=f"doc:{r}",
                text="Paris is the capital of France.",
                score=0.9 - 0.1 * r,
                rank=r,
            )
            for r in range(2)
        ]
        for i in range(n)
    }


def claim_verdict(item_id: str, probs, prediction_set=None, **changes) -> ClaimVerdict:
    label, abstained = decide(probs, prediction_set)
    fields = dict(
        item_id=item_id,
        claim_id=f"{item_id}:0",
        text="Paris is a city.",
        label=label,
        probs=probs,
        p_supported=probs[0],
        abstained=abstained,
    )
    fields.update(changes)
    return ClaimVerdict(**fields)


def item_verdict(item_id: str, probs, prediction_set=None, **changes) -> ItemVerdict:
    claim = claim_verdict(item_id, probs, prediction_set, **changes)
    return ItemVerdict(
        item_id=item_id, label=claim.label, p_supported=claim.p_supported, claims=[claim]
    )


def verdicts(n: int = 4) -> list[ItemVerdict]:
    """One verdict per item, cycling through supported / contradicted / unsupported / uncertain."""
    out = []
    for i in range(n):
        probs = PROBS[i % len(PROBS)]
        out.append(item_verdict(f"item-{i}", probs, (0, 1) if i % 4 == 3 else None))
    assert {v.label for v in out[:4]} == set(VerdictLabel) or n < 4
    return out
