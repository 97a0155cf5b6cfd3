"""A lexical bias model, and training weights that take from the rows it gets right.

The experts once learned word overlap instead of reading (issue 26): a claim that copies its
evidence's words passed, one that adds a negation failed. ``bias_probabilities`` fits, per
source, a logistic regression on features that need no reading (``lexical_features``: word
and bigram overlap, new words, negations, numbers, lengths) and gives each row the
probability it assigns to the row's gold label, out of fold. ``debiased_weights`` turns that
into training weights, ``1 - strength * p_bias(gold)`` (the example reweighting of Utama et
al., 2020, "Towards debiasing NLU models from unknown biases", and Clark et al., 2019): rows
that overlap alone labels right count less, rows where it misleads count more, each source
keeping its share of the mix.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from experts.verifiers.text import content_tokens, coverage, negation_count, tokens

FEATURES = (
    "word_overlap",
    "bigram_overlap",
    "claim_words",
    "new_words",
    "claim_negations",
    "new_negations",
    "new_numbers",
    "evidence_words",
)


def _bigrams(words: list[str]) -> set[tuple[str, str]]:
    return set(zip(words, words[1:], strict=False))


def lexical_features(evidence: str, claim: str) -> list[float]:
    """What a reader that does not read sees of one (evidence, claim) pair (``FEATURES``)."""
    ev_words, cl_words = tokens(evidence), tokens(claim)
    ev_content, cl_content = set(content_tokens(evidence)), set(content_tokens(claim))
    new = cl_content - ev_content
    ev_numbers = {t for t in ev_words if t.isdigit()}
    cl_negations = negation_count(claim)
    return [
        coverage(cl_content, ev_content),
        coverage(_bigrams(cl_words), _bigrams(ev_words)),
        math.log1p(len(cl_content)),
        math.log1p(len(new)),
        float(cl_negations),
        float(max(0, cl_negations - negation_count(evidence))),
        float(sum(1 for t in cl_words if t.isdigit() and t not in ev_numbers)),
        math.log1p(len(ev_words)),
    ]


def feature_matrix(frame: pd.DataFrame) -> np.ndarray:
    """``lexical_features`` of each row of a frame with evidence and claim columns."""
    rows = [
        lexical_features(str(e), str(c))
        for e, c in zip(frame["evidence"], frame["claim"], strict=True)
    ]
    return np.asarray(rows, dtype=np.float64).reshape(len(frame), len(FEATURES))


def bias_probabilities(frame: pd.DataFrame, seed: int, folds: int = 2) -> np.ndarray:
    """Per row, the probability the lexical bias model gives its gold label.

    One multinomial logistic regression per data set (each source has its own artefacts)
    on its rows' labels as they are (``not_supported`` included), fitted on the other folds
    (out of fold: a row's probability never comes from a model that saw it). A data set with
    one label, or fewer than ``folds`` rows of a label, gets the label's share instead.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = np.zeros(len(frame), dtype=np.float64)
    features = feature_matrix(frame)
    labels = frame["label"].astype(str).to_numpy()
    sets = frame["dataset"].to_numpy()
    for name in np.unique(sets):
        index = np.flatnonzero(sets == name)
        y = labels[index]
        names, counts = np.unique(y, return_counts=True)
        if len(names) < 2 or counts.min() < folds:
            share = dict(zip(names, counts / counts.sum(), strict=True))
            out[index] = [share[v] for v in y]
            continue
        splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(index, y)
        for fit, held in splits:
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
            model.fit(features[index[fit]], y[fit])
            proba = model.predict_proba(features[index[held]])
            column = {c: k for k, c in enumerate(model.classes_)}
            out[index[held]] = proba[np.arange(len(held)), [column[v] for v in y[held]]]
    return out


def debiased_weights(frame: pd.DataFrame, strength: float, seed: int) -> np.ndarray:
    """Training weights ``1 - strength * p_bias(gold)``, scaled to mean 1 within each data set
    (the mix's shares stay as sampled); ``strength`` 0 gives every row 1."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"debias strength must be within [0, 1], got {strength}")
    weights = 1.0 - strength * bias_probabilities(frame, seed)
    sets = frame["dataset"].to_numpy()
    means = pd.Series(weights).groupby(sets).transform("mean").to_numpy()
    scaled = np.divide(weights, means, out=np.ones_like(weights), where=means > 0)
    return scaled.astype(np.float32)
