"""Split conformal prediction: coverage, abstention, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from experts.decision.calibration import fit_calibrator
from experts.decision.conformal import (
    ConformalPredictor,
    conformal_path,
    coverage_report,
    load_conformal,
)
from tests.experts.calibration_synthetic import miscalibrated


@pytest.mark.parametrize("alpha", [0.1, 0.05])
def test_coverage_holds_within_tolerance_over_many_seeds(alpha: float) -> None:
    coverages, abstentions = [], []
    for seed in range(40):
        cal_probs, cal_labels, _ = miscalibrated(4000, seed=100 + seed)
        test_probs, test_labels, _ = miscalibrated(4000, seed=1000 + seed)
        predictor = ConformalPredictor().fit(cal_probs, cal_labels, alpha)
        report = coverage_report(predictor.prediction_sets(test_probs), test_labels, test_probs)
        assert abs(report["coverage"] - (1 - alpha)) <= 0.03, (seed, report)
        coverages.append(report["coverage"])
        abstentions.append(report["abstention_rate"])
    # On average the guarantee is tight: 1 - alpha <= E[coverage] <= 1 - alpha + 1/(n+1).
    assert abs(np.mean(coverages) - (1 - alpha)) < 0.006
    assert 0.0 < np.mean(abstentions) < 1.0


def test_lower_alpha_gives_larger_sets_and_more_abstention() -> None:
    cal_probs, cal_labels, _ = miscalibrated(3000, seed=11)
    test_probs, test_labels, _ = miscalibrated(3000, seed=12)
    loose = ConformalPredictor().fit(cal_probs, cal_labels, 0.2)
    tight = ConformalPredictor().fit(cal_probs, cal_labels, 0.05)
    r_loose = coverage_report(loose.prediction_sets(test_probs), test_labels, test_probs)
    r_tight = coverage_report(tight.prediction_sets(test_probs), test_labels, test_probs)
    assert r_tight["coverage"] > r_loose["coverage"]
    assert r_tight["mean_set_size"] > r_loose["mean_set_size"]
    assert r_tight["abstention_rate"] > r_loose["abstention_rate"]
    # Abstaining on the unsure claims raises the accuracy on the rest.
    assert r_tight["selective_accuracy"] > r_tight["accuracy"]


def test_sets_follow_the_threshold() -> None:
    predictor = ConformalPredictor(alpha=0.1, qhat=0.55)
    probs = np.array([[0.9, 0.05, 0.05], [0.5, 0.45, 0.05], [0.3, 0.3, 0.4], [0.45, 0.1, 0.45]])
    assert predictor.prediction_sets(probs) == [(0,), (0, 1), (), (0, 2)]


def test_too_few_examples_for_alpha_means_full_sets() -> None:
    probs = np.array([[0.9, 0.05, 0.05]] * 5)
    predictor = ConformalPredictor().fit(probs, np.zeros(5, dtype=int), alpha=0.05)
    assert predictor.prediction_sets(probs[:1]) == [(0, 1, 2)]


def test_coverage_report_on_known_sets() -> None:
    sets = [(0,), (0, 1), (2,), ()]
    labels = np.array([0, 1, 0, 2])
    probs = np.array([[0.8, 0.1, 0.1], [0.4, 0.4, 0.2], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    report = coverage_report(sets, labels, probs)
    assert report["coverage"] == 0.5
    assert report["abstention_rate"] == 0.5
    assert report["mean_set_size"] == 1.0
    # Kept rows: 0 (supported, right) and 2 (unsupported, wrong).
    assert report["selective_accuracy"] == 0.5


def test_save_load_and_version(home: Path) -> None:
    probs, labels, _ = miscalibrated(1000, seed=13)
    probs = fit_calibrator(probs, labels).transform(probs)
    assert load_conformal() is None
    predictor = ConformalPredictor().fit(probs, labels, 0.1, {"dataset": "synthetic"})
    predictor.save(conformal_path())
    loaded = load_conformal()
    assert loaded is not None
    assert loaded.qhat == predictor.qhat and loaded.alpha == 0.1
    assert loaded.fitted_on["dataset"] == "synthetic"
    assert loaded.version == predictor.version and "a0.1" in loaded.version
    assert loaded.prediction_sets(probs) == predictor.prediction_sets(probs)


def test_errors() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        ConformalPredictor().prediction_sets(np.full((1, 3), 1 / 3))
    with pytest.raises(ValueError, match="alpha"):
        ConformalPredictor().fit(np.full((3, 3), 1 / 3), np.zeros(3, dtype=int), 1.5)
    with pytest.raises(ValueError, match="prediction sets"):
        coverage_report([(0,)], np.array([0, 1]))
