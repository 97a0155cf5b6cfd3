"""The corpus figures' test rows: each source's test split, padded with others' premises."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.corpus_figures import test_rows as corpus_test_rows
from tests.experts.test_corpus import nli_rows, write_source
from verdictflow.config import reset_settings


@pytest.fixture(autouse=True)
def _fresh_settings():
    """The corpus folder these tests point the settings at is theirs only."""
    yield
    reset_settings()


def test_padded_test_rows_keep_each_premise_claim_and_label(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "corpus"
    names = ("alpha", "beta", "gamma", "delta", "eps")
    for i, name in enumerate(names):
        write_source(folder, name, nli_rows(name, 40, seed=i))
    monkeypatch.setenv("VERDICTFLOW_TRAINING__CORPUS_DIR", str(folder))
    reset_settings()
    plain = corpus_test_rows(limit=20, padded=False)
    padded = corpus_test_rows(limit=20, padded=True)
    assert sorted(plain) == sorted(padded) == sorted(names)
    grown = []
    for name, rows in plain.items():
        other = padded[name]  # in the same order
        assert len(rows) == len(other) > 0
        assert (rows["claim"].to_numpy() == other["claim"].to_numpy()).all()
        assert (rows["label"].to_numpy() == other["label"].to_numpy()).all()
        pairs = zip(rows["evidence"], other["evidence"], strict=True)
        grown += [e in p and len(p) > len(e) for e, p in pairs]
    assert sum(grown) >= 0.8 * len(grown)  # each premise, unless its draws all missed


def test_dev_figures_report_the_overlap_controlled_auroc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks.corpus_figures import figures
    from tests.experts.tiny_models import make_tiny_cross_encoder

    folder = tmp_path / "corpus"
    for i, name in enumerate(("alpha", "beta")):
        write_source(folder, name, nli_rows(name, 60, seed=i))
    monkeypatch.setenv("VERDICTFLOW_TRAINING__CORPUS_DIR", str(folder))
    reset_settings()
    dev, test = corpus_test_rows(30, False, "dev"), corpus_test_rows(30, False, "test")
    assert set(dev["alpha"]["evidence"]).isdisjoint(test["alpha"]["evidence"])  # by premise

    model = make_tiny_cross_encoder(tmp_path / "tiny")
    out = figures(model, 30, split="dev")
    assert sorted(out) == ["alpha", "beta"]
    for row in out.values():
        assert row["rows"] == len(dev["alpha"]) or row["rows"] == len(dev["beta"])
        assert {"acc_binary", "auroc", "auroc_overlap_controlled"} <= set(row)
        assert row["auroc_overlap_controlled"] is None or 0 <= row["auroc_overlap_controlled"] <= 1
