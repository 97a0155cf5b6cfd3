"""Split conformal prediction over the three labels, for abstention.

Non-conformity score: 1 - p(true label) (the "LAC" score, smallest average sets). On a
calibration split with n examples, the threshold is the ceil((n + 1)(1 - alpha)) / n empirical
quantile of the scores; a label enters a claim's prediction set when 1 - p(label) is at or
below it. Sets then contain the true label with probability at least 1 - alpha (marginally).
A claim whose set is not a single label gets the verdict ``uncertain``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from experts.decision.calibration import (
    _as_labels,
    _as_probs,
    data_hash,
    shipped_or_home,
    write_json_atomic,
)
from verdictflow.config import get_settings


class ConformalPredictor:
    """Split conformal prediction sets over ``LABELS``."""

    def __init__(
        self,
        alpha: float | None = None,
        qhat: float | None = None,
        fitted_on: dict[str, Any] | None = None,
        version: str = "",
    ) -> None:
        self.alpha = alpha
        self.qhat = qhat
        self.fitted_on = dict(fitted_on or {})
        self.version = version

    def fit(
        self,
        probs: np.ndarray,
        labels: np.ndarray,
        alpha: float,
        fitted_on: dict[str, Any] | None = None,
    ) -> ConformalPredictor:
        """Fit the score threshold on a calibration split (calibrated probabilities)."""
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
        probs = _as_probs(probs)
        labels = _as_labels(labels, len(probs))
        n = len(labels)
        if n == 0:
            raise ValueError("conformal calibration needs at least one example")
        scores = 1.0 - probs[np.arange(n), labels]
        rank = math.ceil((n + 1) * (1.0 - alpha))
        # Too few examples for this alpha: every label enters every set.
        qhat = 1.0 if rank > n else float(np.sort(scores)[rank - 1])
        digest = data_hash(probs, labels)
        self.alpha = float(alpha)
        self.qhat = qhat
        self.fitted_on = {**(fitted_on or {}), "n": n, "data_sha256": digest}
        self.version = f"conformal-a{alpha:g}-{digest[:12]}"
        return self

    def _check_fitted(self) -> float:
        if self.qhat is None:
            raise RuntimeError("ConformalPredictor is not fitted")
        return self.qhat

    def membership(self, probs: np.ndarray) -> np.ndarray:
        """Boolean [n, 3]: whether each label is in each row's prediction set."""
        qhat = self._check_fitted()
        return (1.0 - _as_probs(probs)) <= qhat + 1e-12

    def prediction_sets(self, probs: np.ndarray) -> list[tuple[int, ...]]:
        """Per row, the label indices of its prediction set (may be empty or all three)."""
        return [tuple(int(k) for k in np.flatnonzero(row)) for row in self.membership(probs)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "qhat": self.qhat,
            "fitted_on": self.fitted_on,
            "version": self.version,
        }

    def save(self, path: Path) -> None:
        """Write as JSON (parent folders are created)."""
        self._check_fitted()
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> ConformalPredictor:
        """Read a predictor written by ``save``."""
        data = json.loads(Path(path).read_text())
        if data.get("qhat") is None:
            raise ValueError(f"{path}: not a fitted conformal predictor")
        return cls(
            alpha=data["alpha"],
            qhat=data["qhat"],
            fitted_on=data.get("fitted_on", {}),
            version=data.get("version", ""),
        )


def conformal_path() -> Path:
    """Where the conformal predictor lives under ``settings.calibration_dir``."""
    return get_settings().calibration_dir / "conformal.json"


def load_conformal() -> ConformalPredictor | None:
    """The conformal predictor: HOME's, else the shipped one, else None."""
    path = shipped_or_home(conformal_path())
    return ConformalPredictor.load(path) if path else None


def coverage_report(
    sets: list[tuple[int, ...]], labels: np.ndarray, probs: np.ndarray | None = None
) -> dict[str, float]:
    """Empirical coverage, abstention rate (set not a single label) and mean set size; given
    probabilities also the accuracy of the threshold verdicts, overall and on the rows not
    abstained (selective accuracy)."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(sets) != len(labels):
        raise ValueError(f"{len(sets)} prediction sets for {len(labels)} labels")
    n = len(labels)
    if n == 0:
        raise ValueError("coverage needs at least one example")
    covered = np.array([int(y) in s for s, y in zip(sets, labels, strict=True)])
    single = np.array([len(s) == 1 for s in sets])
    report = {
        "coverage": float(covered.mean()),
        "abstention_rate": float(1.0 - single.mean()),
        "mean_set_size": float(np.mean([len(s) for s in sets])),
        "n": float(n),
    }
    if probs is not None:
        from experts.decision.uncertainty import selective_accuracy, threshold_indices

        probs = _as_probs(probs)
        report["selective_accuracy"] = selective_accuracy(probs, labels, ~single)
        report["accuracy"] = float(np.mean(threshold_indices(probs) == labels))
    return report
