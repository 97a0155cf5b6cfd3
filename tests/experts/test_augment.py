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


def test_distractor_padding_keeps_the_premise_and_label_and_adds_other_sets_premises() -> None:
    df = pd.DataFrame(
        {
            "evidence": [f"Premise {s} number {i}." for s in "abc" for i in range(20)],
            "claim": [f"Claim {i}." for i in range(60)],
            "label": ["supported", "contradicted", "not_supported"] * 20,
            "dataset": [s for s in "abc" for _ in range(20)],
        }
    )
    out = augment.distractor_padded(df, fraction=0.5, seed=0, max_chars=80)
    padded = out[out["padded"]]
    assert 20 <= len(padded) <= 30  # half chosen; a few find no donor that fits
    assert (out["label"] == df["label"]).all() and (out["claim"] == df["claim"]).all()
    for i, row in padded.iterrows():
        own = df.at[i, "evidence"]
        assert own in row["evidence"] and row["evidence"] != own and len(row["evidence"]) <= 80
        others = row["evidence"].replace(own, "")
        assert f"Premise {row['dataset']} " not in others  # donors come from other sets
    untouched = out[~out["padded"]]
    assert (untouched["evidence"] == df.loc[untouched.index, "evidence"]).all()
    assert not augment.distractor_padded(df, 0.0, seed=0)["padded"].any()


def test_unrelated_evidence_pairs_claims_with_other_sets_premises_as_not_enough_info() -> None:
    df = pd.DataFrame(
        {
            "evidence": [f"Premise {s} {i}." for s in "ab" for i in range(10)],
            "claim": [f"Claim {s} {i}." for s in "ab" for i in range(10)],
            "label": ["supported"] * 20,
            "dataset": [s for s in "ab" for _ in range(10)],
        }
    )
    out = augment.unrelated_evidence(df, fraction=0.5, seed=0)
    assert 0 < len(out) <= 10 and set(out["label"]) == {"not_enough_info"}
    own_set = out["claim"].str.split().str[1]
    assert (out["evidence"].str.split().str[1] != own_set).all()
    assert (out["dataset"] == own_set).all()  # the row keeps its claim's set
    assert augment.unrelated_evidence(df, 0.0, seed=0).empty


def test_window_label_joins_what_premises_say_together() -> None:
    assert augment.window_label(["not_enough_info", "supported"]) == "supported"
    assert augment.window_label(["contradicted", "not_enough_info"]) == "contradicted"
    assert augment.window_label(["supported", "contradicted"]) is None  # they disagree
    assert augment.window_label(["not_enough_info", "not_enough_info"]) == "not_enough_info"
    assert augment.window_label(["not_supported", "not_supported"]) == "not_supported"


def test_evidence_set_windows_join_one_claims_premises_of_the_named_sources() -> None:
    claims = {
        "Sea ice is shrinking.": ["supported", "not_enough_info", "not_enough_info"],
        "Glaciers grow.": ["contradicted", "not_enough_info", "supported"],
        "CO2 is rising.": ["not_enough_info", "not_enough_info"],
    }
    rows = [
        (f"{claim[:-1]} evidence {k}.", claim, label, "climate")
        for claim, labels in claims.items()
        for k, label in enumerate(labels)
    ]
    rows += [("A man sleeps.", "A man is asleep.", "supported", "captions")] * 2
    rows += [("A dog runs.", "A dog is running.", "supported", "captions")]
    df = pd.DataFrame(rows, columns=["evidence", "claim", "label", "dataset"])
    out = augment.evidence_set_windows(df, fraction=5.0, sources=("climate",), seed=0)
    assert len(out) > 20 and set(out["dataset"]) == {"climate"}  # never the other source
    for ev, claim, label in zip(out["evidence"], out["claim"], out["label"], strict=True):
        parts = re.findall(r"evidence (\d)\.", ev)
        assert 2 <= len(parts) == len(set(parts))  # 2+ distinct premises of this claim
        assert ev.startswith(claim.split()[0])
        said = [claims[claim][int(k)] for k in parts]
        assert label == augment.window_label(said) and label is not None
    glaciers = out[out["claim"] == "Glaciers grow."]
    assert set(glaciers["label"]) <= {"contradicted", "supported"}  # never both in one window
    assert augment.evidence_set_windows(df, 0.5, ("captions",), seed=0).empty  # 1 premise each
    short = augment.evidence_set_windows(df, 5.0, ("climate",), seed=0, max_chars=70)
    assert len(short) and short["evidence"].str.len().le(70).all()
    assert augment.evidence_set_windows(df, 5.0, ("climate",), seed=0, max_chars=40).empty
