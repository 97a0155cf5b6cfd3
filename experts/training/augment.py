"""Synthetic negatives built from labelled rows, for what the source data under-represents.

- ``swapped_evidence``: a right claim shown with another record's evidence (only the evidence
  tells the labels apart; HaluEval's wording alone otherwise gives much away).
- ``changed_numbers``: a right claim with one of its numbers changed (a contradiction that
  only a reader of the figures catches; the gate learns when the numbers expert matters).
- ``unrelated_evidence``: a claim shown with another source's premise, labelled not enough
  info (the caption sets label a different scene a contradiction; a verifier must not).
- ``distractor_padded``: a premise with short premises of other sources put before and after
  it, the label kept (the pipeline's evidence windows hold several sentences, most of them
  beside the point; the NLI sources' premises are mostly one sentence).
- ``evidence_set_windows``: 2-4 premises of one claim joined into one window, labelled by what
  they say together (the sentences beside the deciding one are about the same subject, with
  their own numbers and negations, as in a document's window).
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


def distractor_padded(
    df: pd.DataFrame, fraction: float, seed: int, max_chars: int = 600, donor_chars: int = 200
) -> pd.DataFrame:
    """``df`` with a ``fraction`` of its rows' evidence padded by 1-3 premises of rows from
    other data sets (each at most ``donor_chars`` long), before or after it, up to
    ``max_chars`` in all; labels are kept, and a ``padded`` column marks the rows changed.

    A draw that hits the row's own set, a used donor or the length limit is skipped (a row
    of a set that holds a third of the rows stays unpadded one time in six). Donors come from
    other data sets so that a padding sentence rarely bears on the claim (two
    caption sets' premises could entail each other's claims). An entailed claim stays entailed
    by a longer premise; a contradicted one stays contradicted; a neutral one stays neutral.
    """
    out = df.reset_index(drop=True).copy()
    out["padded"] = False
    if fraction <= 0 or out["dataset"].nunique() < 2:
        return out
    rng = np.random.default_rng(seed)
    evidence = out["evidence"].to_numpy(dtype=object)
    sets = out["dataset"].to_numpy()
    short = np.flatnonzero(out["evidence"].str.len().to_numpy() <= donor_chars)
    if not len(short):
        return out
    chosen = rng.choice(len(out), size=int(round(fraction * len(out))), replace=False)
    padded_evidence, padded = evidence.copy(), np.zeros(len(out), dtype=bool)
    for i in chosen:
        length = len(str(evidence[i]))
        before: list[str] = []
        after: list[str] = []
        for _ in range(int(rng.integers(1, 4))):
            j = int(short[rng.integers(len(short))])
            donor = str(evidence[j]).strip()
            used = donor in before or donor in after
            if used or sets[j] == sets[i] or length + len(donor) + 1 > max_chars:
                continue
            (before if rng.random() < 0.5 else after).append(donor)
            length += len(donor) + 1
        if before or after:
            padded_evidence[i] = " ".join([*before, str(evidence[i]), *after])
            padded[i] = True
    out["evidence"], out["padded"] = padded_evidence, padded  # one write: .at is slow on Arrow
    return out


def unrelated_evidence(df: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """``fraction`` x len(df) new rows: a row's claim with the evidence of a row from another
    data set, labelled ``not_enough_info`` (evidence about something else says nothing)."""
    n = int(round(fraction * len(df)))
    if n == 0 or df["dataset"].nunique() < 2:
        return df.iloc[0:0]
    rng = np.random.default_rng(seed)
    rows = df.iloc[rng.integers(0, len(df), n)].reset_index(drop=True)
    donors = df.iloc[rng.integers(0, len(df), n)].reset_index(drop=True)
    other = donors["dataset"].to_numpy() != rows["dataset"].to_numpy()
    rows = rows[other].copy()
    rows["evidence"] = donors.loc[other, "evidence"].to_numpy()
    rows["label"] = "not_enough_info"
    return rows.reset_index(drop=True)


def window_label(labels: list[str]) -> str | None:
    """What premises joined into one window say about a claim, from each one's label: a
    supporting and a contradicting one disagree (None); else one that supports (or
    contradicts) decides; else not enough info, or not supported when a two-way label is
    among them."""
    found = set(labels)
    if {"supported", "contradicted"} <= found:
        return None
    for decisive in ("supported", "contradicted"):
        if decisive in found:
            return decisive
    return "not_supported" if "not_supported" in found else "not_enough_info"


def evidence_set_windows(
    df: pd.DataFrame, fraction: float, sources: tuple[str, ...], seed: int, max_chars: int = 600
) -> pd.DataFrame:
    """Up to ``fraction`` x len(df) new rows, each a claim of one of ``sources`` with 2-4 of its
    own premises (distinct, shuffled, at most ``max_chars`` in all) as one evidence window,
    labelled by ``window_label``; the other columns are the first chosen row's.

    In these sources a claim comes with several evidence sentences about its subject (Climate-
    FEVER's five Wikipedia sentences, SciTail's retrieved ones), most of them neutral: joined,
    they are the window of a document where the sentences beside the deciding one state other
    figures and negations about the same thing, which must not read as a contradiction.
    """
    n = int(round(fraction * len(df)))
    pool = df[df["dataset"].isin(sources)].drop_duplicates(["claim", "evidence"])
    pool = pool.reset_index(drop=True)
    groups = [idx for idx in pool.groupby(["dataset", "claim"]).indices.values() if len(idx) > 1]
    if n == 0 or not groups:
        return df.iloc[0:0]
    rng = np.random.default_rng(seed)
    evidence = pool["evidence"].str.strip().to_numpy(dtype=object)
    labels = pool["label"].to_numpy(dtype=object)
    picked, texts, out_labels = [], [], []
    for _ in range(4 * n):
        if len(picked) >= n:
            break
        idx = groups[int(rng.integers(len(groups)))]
        chosen = list(rng.permutation(idx)[: int(rng.integers(2, min(4, len(idx)) + 1))])
        while len(chosen) > 2 and sum(len(evidence[i]) + 1 for i in chosen) > max_chars:
            chosen.pop()
        label = window_label([labels[i] for i in chosen])
        text = " ".join(evidence[i] for i in chosen)
        if label is None or len(text) > max_chars:
            continue
        picked.append(chosen[0])
        texts.append(text)
        out_labels.append(label)
    if not picked:
        return df.iloc[0:0]
    rows = pool.iloc[picked].reset_index(drop=True)
    rows["evidence"], rows["label"] = texts, out_labels
    return rows
