"""Synthetic negatives built from labelled rows, for what the source data under-represents.

- ``swapped_evidence``: a right claim shown with another record's evidence (only the evidence
  tells the labels apart; HaluEval's wording alone otherwise gives much away).
- ``changed_numbers``: a right claim with one of its numbers changed (a contradiction that
  only a reader of the figures catches; the gate learns when the numbers expert matters).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from experts.verifiers.quantities import NUM

# A numeral as the numbers expert reads one, standing alone (not inside "X2" or "IP67").
_NUMBER = re.compile(r"(?<![\w.,])(?:" + NUM + r")(?![\w]|[.,]\d)")
_FACTORS = (0.5, 0.75, 0.8, 1.2, 1.25, 1.5, 2.0, 3.0)


def swapped_evidence(df: pd.DataFrame, group_col: str, fraction: float, seed: int) -> pd.DataFrame:
    """Evidence-swapped negatives: a ``fraction`` of the supported rows, each paired with
    the evidence of a row from another group and labelled ``not_supported``.

    HaluEval's texts carry style: claim text alone scores AUROC 0.80 / 0.86 / 0.95 (QA /
    dialogue / summarisation, TF-IDF + logistic regression). With the same right claims
    also shown against the wrong evidence, only the evidence tells the two labels apart.
    """
    pos = df[df["label"] == "supported"]
    n = int(round(fraction * len(pos)))
    if n == 0 or df[group_col].nunique() < 2:
        return df.iloc[0:0]
    rng = np.random.default_rng(seed)
    rows = pos.iloc[rng.choice(len(pos), n, replace=False)].reset_index(drop=True)
    donors = df.iloc[rng.integers(0, len(df), n)].reset_index(drop=True)
    same = (donors[group_col].to_numpy() == rows[group_col].to_numpy()) | (
        donors["evidence"].to_numpy() == rows["evidence"].to_numpy()
    )
    rows = rows[~same].copy()
    rows["evidence"] = donors.loc[~same, "evidence"].to_numpy()
    rows["label"] = "not_supported"
    return rows.reset_index(drop=True)


def other_number(text: str, rng: np.random.Generator) -> str:
    """A different number written like ``text``: same decimals, thousands separators kept;
    a year-like integer (1800-2100) moves by 1-5 years, other values by a factor."""
    value = float(text.replace(",", ""))
    decimals = len(text.split(".")[1]) if "." in text else 0
    if decimals == 0 and 1800 <= value <= 2100 and "," not in text:
        new = value + rng.choice([-5, -3, -2, -1, 1, 2, 3, 5])
    else:
        new = value * rng.choice(_FACTORS)
        if decimals == 0:
            new = round(new)
            if new == value:
                new = value + 1
    out = f"{new:,.{decimals}f}" if "," in text else f"{new:.{decimals}f}"
    return out if out != text else f"{value + 1:.{decimals}f}"


def changed_numbers(df: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """Number-changed negatives: up to ``fraction`` of the supported rows whose claim states a
    number that its evidence states too, that number changed, labelled ``contradicted``."""
    rng = np.random.default_rng(seed)
    pos = df[df["label"] == "supported"]
    n = int(round(fraction * len(pos)))
    rows = []
    for i in rng.permutation(len(pos)):
        if len(rows) >= n:
            break
        evidence, claim = pos["evidence"].iat[i], pos["claim"].iat[i]
        stated = {m.group() for m in _NUMBER.finditer(evidence)}
        shared = [m for m in _NUMBER.finditer(claim) if m.group() in stated]
        if not shared:
            continue
        m = shared[int(rng.integers(len(shared)))]
        new = other_number(m.group(), rng)
        rows.append((evidence, claim[: m.start()] + new + claim[m.end() :], "contradicted"))
    return pd.DataFrame(rows, columns=["evidence", "claim", "label"])
