"""Calibration: temperature scaling and isotonic regression, metrics, persistence, diagram."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from experts.decision.calibration import (
    Calibrator,
    calibration_metrics,
    calibrator_path,
    expected_calibration_error,
    fit_calibrator,
    load_calibrator,
    reliability_bins,
    reliability_diagram,
)
from tests.experts.calibration_synthetic import miscalibrated


def test_temperature_scaling_lowers_ece_of_an_overconfident_scorer() -> None:
    cal_probs, cal_labels, _ = miscalibrated(4000, seed=1)
    test_probs, test_labels, true = miscalibrated(4000, seed=2)
    calibrator = fit_calibrator(cal_probs, cal_labels, "temperature")
    before = calibration_metrics(test_probs, test_labels)
    after = calibration_metrics(calibrator.transform(test_probs), test_labels)
    # The scorer sharpened logits 3x: the fitted temperature undoes it.
    assert calibrator.params["temperature"] == pytest.approx(3.0, rel=0.15)
    assert before["ece"] > 0.1
    assert after["ece"] < 0.04
    assert after["ece"] < before["ece"] / 3
    assert after["nll"] < before["nll"]
    assert after["brier"] < before["brier"]
    # Temperature keeps the ranking: accuracy is unchanged.
    assert after["accuracy"] == before["accuracy"]
    # Close to the true probabilities' own calibration.
    assert after["ece"] < expected_calibration_error(true, test_labels) + 0.03


def test_temperature_leaves_a_calibrated_scorer_nearly_alone() -> None:
    _, labels, true = miscalibrated(4000, seed=3)
    calibrator = fit_calibrator(true, labels)
    assert calibrator.params["temperature"] == pytest.approx(1.0, abs=0.15)


def test_isotonic_is_monotone_and_lowers_ece() -> None:
    cal_probs, cal_labels, _ = miscalibrated(4000, seed=4)
    test_probs, test_labels, _ = miscalibrated(4000, seed=5)
    calibrator = fit_calibrator(cal_probs, cal_labels, "isotonic")
    grid = np.linspace(0, 1, 501)
    maps = calibrator.class_maps(np.stack([grid, grid, grid], axis=1))
    assert np.all(np.diff(maps, axis=0) >= -1e-12), "each class map must be non-decreasing"
    assert maps.min() >= 0 and maps.max() <= 1
    # The maps are not constant: they carry information.
    assert np.all(maps[-1] - maps[0] > 0.5)
    after = calibrator.transform(test_probs)
    np.testing.assert_allclose(after.sum(axis=1), 1.0, atol=1e-9)
    assert expected_calibration_error(after, test_labels) < 0.05
    assert expected_calibration_error(after, test_labels) < expected_calibration_error(
        test_probs, test_labels
    )


def test_auto_picks_isotonic_when_temperature_cannot_fix_a_class_bias() -> None:
    rng = np.random.default_rng(21)
    _, labels, true = miscalibrated(4000, seed=21)
    biased = true * np.array([3.0, 1.0, 0.3])  # over-predicts supported, under-predicts NEI
    biased /= biased.sum(axis=1, keepdims=True)
    calibrator = fit_calibrator(biased, labels, "auto")
    scores = calibrator.fitted_on["selected_by_cv_nll"]
    assert calibrator.method == "isotonic"
    assert scores["isotonic"] < scores["temperature"]
    test_labels = rng.integers(0, 3, size=10)  # transform works on any rows
    assert calibrator.transform(biased[: len(test_labels)]).shape == (10, 3)
    # On a pure temperature miscalibration, the chosen method is the one with the lower score.
    probs, labels, _ = miscalibrated(2000, seed=22)
    chosen = fit_calibrator(probs, labels, "auto")
    cv = chosen.fitted_on["selected_by_cv_nll"]
    assert chosen.method == min(cv, key=cv.get)


@pytest.mark.parametrize("method", ["temperature", "isotonic"])
def test_save_load_roundtrip_and_version(home: Path, method: str) -> None:
    probs, labels, _ = miscalibrated(500, seed=6)
    calibrator = fit_calibrator(probs, labels, method, fitted_on={"dataset": "synthetic"})
    assert calibrator.version.startswith(method + "-")
    assert calibrator.fitted_on["dataset"] == "synthetic"
    assert calibrator.fitted_on["n"] == 500
    assert len(calibrator.fitted_on["data_sha256"]) == 64
    assert load_calibrator() is None
    calibrator.save(calibrator_path("combined"))
    loaded = load_calibrator("combined")
    assert isinstance(loaded, Calibrator)
    assert loaded.version == calibrator.version
    assert loaded.fitted_on == calibrator.fitted_on
    np.testing.assert_allclose(loaded.transform(probs), calibrator.transform(probs))
    # Same data, same version; other data, another version.
    assert fit_calibrator(probs, labels, method).version == calibrator.version
    assert fit_calibrator(probs[:-1], labels[:-1], method).version != calibrator.version


def test_transform_output_is_a_distribution_even_for_degenerate_rows() -> None:
    probs, labels, _ = miscalibrated(300, seed=7)
    calibrator = fit_calibrator(probs, labels)
    odd = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.2, 0.2, 0.2]])
    out = calibrator.transform(odd)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert np.all(out >= 0)
    assert calibrator.transform(np.zeros((0, 3))).shape == (0, 3)


def test_metrics_on_known_values() -> None:
    labels = np.array([0, 1, 2, 0])
    perfect = np.eye(3)[labels]
    m = calibration_metrics(perfect, labels)
    assert m["brier"] == pytest.approx(0.0)
    assert m["nll"] == pytest.approx(0.0, abs=1e-9)
    assert m["ece"] == pytest.approx(0.0)
    assert m["accuracy"] == 1.0
    # Always 0.6 confident, right half the time: ECE 0.1.
    probs = np.tile([0.6, 0.3, 0.1], (10, 1))
    labels = np.array([0] * 5 + [1] * 5)
    m = calibration_metrics(probs, labels)
    assert m["ece"] == pytest.approx(0.1)
    assert m["accuracy"] == 0.5
    assert m["nll"] == pytest.approx(-(np.log(0.6) + np.log(0.3)) / 2)
    assert m["brier"] == pytest.approx(
        ((0.4**2 + 0.3**2 + 0.1**2) + (0.6**2 + 0.7**2 + 0.1**2)) / 2
    )


def test_ece_uses_15_equal_mass_bins() -> None:
    probs, labels, _ = miscalibrated(3000, seed=8)
    bins = reliability_bins(probs, labels)
    assert len(bins) == 15
    assert all(199 <= count <= 201 for _, _, count in bins)
    # Tied confidences share a bin.
    tied = reliability_bins(np.tile([0.6, 0.3, 0.1], (30, 1)), np.zeros(30, dtype=int))
    assert len(tied) == 1
    confidences = [c for c, _, _ in bins]
    assert confidences == sorted(confidences)


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="shape"):
        fit_calibrator(np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="class indices"):
        fit_calibrator(np.full((4, 3), 1 / 3), np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="unknown calibration method"):
        fit_calibrator(np.full((4, 3), 1 / 3), np.array([0, 1, 2, 0]), "platt")
    with pytest.raises(ValueError, match="finite"):
        calibration_metrics(np.array([[np.nan, 0.5, 0.5]]), np.array([0]))


def test_reliability_diagram_writes_a_png(tmp_path: Path) -> None:
    probs, labels, _ = miscalibrated(600, seed=9)
    calibrator = fit_calibrator(probs, labels)
    path = reliability_diagram(
        {"raw": probs, "calibrated": calibrator.transform(probs)},
        labels,
        tmp_path / "sub" / "diagram.png",
        title="synthetic",
    )
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5000
    single = reliability_diagram(probs, labels, tmp_path / "one.png")
    assert single.exists()


def test_a_fresh_home_loads_the_shipped_calibration_and_its_own_wins(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from experts.decision import calibration
    from experts.decision.conformal import ConformalPredictor, conformal_path, load_conformal
    from verdictflow.config import get_settings

    probs, labels, _ = miscalibrated(400, seed=8)
    shipped = tmp_path / "models-calibration"
    fit_calibrator(probs, labels, "temperature").save(shipped / "combined.json")
    ConformalPredictor().fit(probs, labels, 0.1).save(shipped / "conformal.json")
    monkeypatch.setattr(calibration, "SHIPPED_CALIBRATION", shipped)
    assert load_calibrator() is None and load_conformal() is None  # off in tests by default
    get_settings().quality.use_shipped_calibration = True
    assert load_calibrator().version.startswith("temperature-")
    assert load_conformal() is not None
    own = fit_calibrator(probs, labels, "isotonic")
    own.save(calibrator_path("combined"))
    assert load_calibrator().version == own.version  # HOME's own calibration wins
    assert not conformal_path().exists() and load_conformal() is not None
