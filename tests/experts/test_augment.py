"""Synthetic negatives: evidence swapped between records, numbers changed in right claims."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from experts.training import augment


def test_swapped_evidence_pairs_right_claims_with_other_groups_evidence() -> None:
    df = pd.DataFrame(
        {
            "evidence": [f"E{g}" for g in range(6) for _ in range(2)],
            "claim": [f"C{g}-{lab}" for g in range(6) for lab in ("right", "wrong")],
            "label": ["supported", "not_supported"] * 6,
            "group": [f"g{g}" for g in range(6) for _ in range(2)],
        }
    )
    out = augment.swapped_evidence(df, "group", fraction=1.0, seed=0)
    assert 0 < len(out) <= 6 and set(out["label"]) == {"not_supported"}
    assert out["claim"].str.endswith("-right").all()
    own = out["claim"].str.split("-").str[0].str.replace("C", "E")
    assert (out["evidence"] != own).all()  # never its own group's evidence
    assert augment.swapped_evidence(df, "group", fraction=0.0, seed=0).empty


def test_other_number_keeps_the_format_and_changes_the_value() -> None:
    rng = np.random.default_rng(0)
    for text in ["254", "1,299.00", "2019", "3.5", "0", "1"]:
        for _ in range(20):
            new = augment.other_number(text, rng)
            assert new != text
            assert ("," in new) == ("," in text) or float(new.replace(",", "")) < 1000
            assert len(new.split(".")[-1]) == len(text.split(".")[-1]) or "." not in text
    years = {int(augment.other_number("2019", rng)) for _ in range(50)}
    assert years and all(2014 <= y <= 2024 for y in years)  # a year moves by a few years


def test_changed_numbers_contradict_right_claims_by_one_number() -> None:
    df = pd.DataFrame(
        {
            "evidence": [
                "The Aurora X2 weighs 254 grams and ships in 2019.",
                "The speaker plays for 20 hours.",
                "The office is in Oslo.",
                "Revenue was 3.5 million.",
            ],
            "claim": [
                "The Aurora X2 weighs 254 grams.",
                "It plays for 20 hours.",
                "The office is in Oslo.",  # no number: never used
                "Revenue was 4 million.",  # not supported: never used
            ],
            "label": ["supported", "supported", "supported", "not_supported"],
        }
    )
    out = augment.changed_numbers(df, fraction=1.0, seed=0)
    assert len(out) == 2 and set(out["label"]) == {"contradicted"}
    for _, row in out.iterrows():
        original = df[df["evidence"] == row["evidence"]]["claim"].iat[0]
        assert row["claim"] != original
        # Only the number differs, and the new one is not stated in the evidence.
        assert re.sub(r"[\d,.]+", "#", row["claim"]) == re.sub(r"[\d,.]+", "#", original)
        new = re.findall(r"\d[\d,.]*", row["claim"])[-1].rstrip(".")
        assert new not in re.findall(r"\d[\d,.]*", row["evidence"].rstrip("."))
    assert augment.changed_numbers(df, fraction=0.0, seed=0).empty
