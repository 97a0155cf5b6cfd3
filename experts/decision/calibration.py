"""Calibration of 3-class probabilities: temperature scaling (default) or isotonic regression.

A ``Calibrator`` maps raw probabilities over ``LABELS`` to calibrated ones. It is fitted on a
labelled calibration split, saved as JSON with a version and a description (and hash) of the
data it was fitted on, and loaded by the verify flow from ``settings.calibration_dir``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from verdictflow.config import REPO_ROOT, get_settings

SHIPPED_CALIBRATION = REPO_ROOT / "models" / "calibration"

METHODS = ("temperature", "isotonic")
AUTO = "auto"  # pick the method with the lower 2-fold cross-validated NLL
ECE_BINS = 15
_EPS = 1e-12


def _as_probs(probs: Any) -> np.ndarray:
    """Validate and return float64 [n, 3] probabilities."""
    arr = np.asarray(probs, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"probabilities must have shape [n, 3], got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("probabilities must be finite and non-negative")
    return arr


def _as_labels(labels: Any, n: int) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise ValueError(f"labels must have shape [{n}], got {arr.shape}")
    if n and (arr.min() < 0 or arr.max() > 2):
        raise ValueError("labels must be class indices in {0, 1, 2}")
    return arr.astype(np.int64)


def _normalise(probs: np.ndarray) -> np.ndarray:
    total = probs.sum(axis=1, keepdims=True)
    uniform = np.full_like(probs, 1.0 / probs.shape[1])
    return np.where(total > _EPS, probs / np.maximum(total, _EPS), uniform)


def data_hash(probs: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 of the calibration data (rounded probabilities and labels)."""
    digest = hashlib.sha256()
    digest.update(np.round(np.asarray(probs, dtype=np.float64), 8).tobytes())
    digest.update(np.asarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _temperature_scale(probs: np.ndarray, temperature: float) -> np.ndarray:
    logits = np.log(np.clip(probs, _EPS, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def _fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        scaled = _temperature_scale(probs, float(np.exp(log_t)))
        return float(-np.mean(np.log(np.clip(scaled[np.arange(len(labels)), labels], _EPS, 1))))

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


@dataclass
class Calibrator:
    """A fitted map from raw to calibrated probabilities over ``LABELS``.

    Attributes:
        method: "temperature" or "isotonic".
        version: "<method>-<first 12 hex of the data hash>": the same data gives the same version.
        fitted_on: Description of the calibration data (dataset, split, n, class counts, hash).
        params: Method parameters (``temperature``, or per-class isotonic knots).
    """

    method: str
    version: str
    fitted_on: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def transform(self, probs: np.ndarray) -> np.ndarray:
        """Calibrate [n, 3] probabilities; rows of the result sum to 1."""
        probs = _as_probs(probs)
        if len(probs) == 0:
            return probs.copy()
        if self.method == "temperature":
            return _temperature_scale(_normalise(probs), float(self.params["temperature"]))
        if self.method == "isotonic":
            return _normalise(self.class_maps(probs))
        raise ValueError(f"unknown calibration method {self.method!r}")

    def class_maps(self, probs: np.ndarray) -> np.ndarray:
        """Isotonic only: each class's monotone map applied to its column, before normalising."""
        if self.method != "isotonic":
            raise ValueError("class_maps exists for isotonic calibrators only")
        probs = _as_probs(probs)
        columns = [
            np.interp(probs[:, k], knots["x"], knots["y"])
            for k, knots in enumerate(self.params["classes"])
        ]
        return np.stack(columns, axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "version": self.version,
            "fitted_on": self.fitted_on,
            "params": self.params,
        }

    def save(self, path: Path) -> None:
        """Write the calibrator as JSON (parent folders are created)."""
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> Calibrator:
        """Read a calibrator written by ``save``."""
        data = json.loads(Path(path).read_text())
        if data.get("method") not in METHODS:
            raise ValueError(f"{path}: unknown calibration method {data.get('method')!r}")
        return cls(
            method=data["method"],
            version=data["version"],
            fitted_on=data.get("fitted_on", {}),
            params=data.get("params", {}),
        )


def fit_calibrator(
    probs: np.ndarray,
    labels: np.ndarray,
    method: str = "temperature",
    fitted_on: dict | None = None,
) -> Calibrator:
    """Fit a calibrator on raw [n, 3] probabilities and integer labels (index into LABELS).

    Args:
        probs: Raw probabilities, rows over (supported, contradicted, not_enough_info).
        labels: True class indices.
        method: "temperature" (one parameter, keeps the ranking), "isotonic" (per class,
            one-vs-rest, then renormalised) or "auto" (the one with the lower 2-fold
            cross-validated NLL; the scores are kept in ``fitted_on``).
        fitted_on: Description of the data (dataset, split...); n, class counts and the data
            hash are added.
    """
    if method not in (*METHODS, AUTO):
        raise ValueError(
            f"unknown calibration method {method!r}; expected one of {(*METHODS, AUTO)}"
        )
    probs = _as_probs(probs)
    labels = _as_labels(labels, len(probs))
    if len(probs) < 2:
        raise ValueError("calibration needs at least 2 labelled examples")
    description = dict(fitted_on or {})
    if method == AUTO:
        scores = cross_validated_nll(probs, labels)
        method = min(scores, key=scores.get)
        description["selected_by_cv_nll"] = scores
    digest = data_hash(probs, labels)
    description.update(
        n=int(len(labels)),
        class_counts={str(k): int((labels == k).sum()) for k in range(3)},
        data_sha256=digest,
        fitted_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    if method == "temperature":
        params: dict[str, Any] = {"temperature": _fit_temperature(_normalise(probs), labels)}
    else:
        from sklearn.isotonic import IsotonicRegression

        classes = []
        for k in range(3):
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            iso.fit(probs[:, k], (labels == k).astype(np.float64))
            classes.append({"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()})
        params = {"classes": classes}
    return Calibrator(
        method=method, version=f"{method}-{digest[:12]}", fitted_on=description, params=params
    )


def cross_validated_nll(probs: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Mean NLL of each method over 2 folds (fit on one half, score the other)."""
    probs = _as_probs(probs)
    labels = _as_labels(labels, len(probs))
    order = np.random.default_rng(seed).permutation(len(labels))
    folds = (order[: len(order) // 2], order[len(order) // 2 :])
    out = {}
    for method in METHODS:
        losses = []
        for fit_idx, test_idx in (folds, folds[::-1]):
            fitted = fit_calibrator(probs[fit_idx], labels[fit_idx], method)
            p = fitted.transform(probs[test_idx])[np.arange(len(test_idx)), labels[test_idx]]
            losses.append(float(-np.mean(np.log(np.clip(p, _EPS, 1.0)))))
        out[method] = float(np.mean(losses))
    return out


def calibrator_path(name: str = "combined") -> Path:
    """Where the calibrator called ``name`` lives under ``settings.calibration_dir``."""
    return get_settings().calibration_dir / f"{name}.json"


def shipped_or_home(path: Path) -> Path | None:
    """``path`` under HOME when it exists, else the file of that name shipped with the
    models (``models/calibration``: fitted on the dev mix for the shipped experts), else None."""
    if path.exists():
        return path
    shipped = SHIPPED_CALIBRATION / path.name
    return shipped if get_settings().quality.use_shipped_calibration and shipped.exists() else None


def load_calibrator(name: str = "combined") -> Calibrator | None:
    """The calibrator ``name`` ("combined" or an expert's name): HOME's, else the shipped
    one, else None."""
    path = shipped_or_home(calibrator_path(name))
    return Calibrator.load(path) if path else None


def _equal_mass_bin_ids(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each value: edges at the confidence quantiles, so bins hold about equal counts
    and tied confidences always share a bin."""
    inner = np.quantile(confidence, np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.searchsorted(np.unique(inner), confidence, side="right")


def reliability_bins(
    probs: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS
) -> list[tuple[float, float, int]]:
    """Top-label (mean confidence, accuracy, count) per equal-mass bin, by rising confidence.

    Ties never straddle a bin edge, so heavily tied confidences make fewer bins."""
    probs = _as_probs(probs)
    labels = _as_labels(labels, len(probs))
    if len(probs) == 0:
        return []
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    ids = _equal_mass_bin_ids(confidence, n_bins)
    return [
        (float(confidence[ids == b].mean()), float(correct[ids == b].mean()), int((ids == b).sum()))
        for b in np.unique(ids)
    ]


def expected_calibration_error(
    probs: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS
) -> float:
    """Top-label ECE with ``n_bins`` equal-mass bins."""
    bins = reliability_bins(probs, labels, n_bins)
    n = sum(count for _, _, count in bins)
    return float(sum(count * abs(acc - conf) for conf, acc, count in bins) / n) if n else 0.0


def calibration_metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """ECE (15 equal-mass bins), multi-class Brier score, NLL and accuracy."""
    probs = _as_probs(probs)
    labels = _as_labels(labels, len(probs))
    if len(probs) == 0:
        raise ValueError("calibration metrics need at least one example")
    onehot = np.eye(3)[labels]
    p_true = np.clip(probs[np.arange(len(labels)), labels], _EPS, 1.0)
    return {
        "ece": expected_calibration_error(probs, labels),
        "brier": float(np.mean(np.sum((probs - onehot) ** 2, axis=1))),
        "nll": float(-np.mean(np.log(p_true))),
        "accuracy": float(np.mean(probs.argmax(axis=1) == labels)),
        "n": float(len(labels)),
    }


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON through a temporary file, so a reader never sees half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(path)


def reliability_figure(
    probs: np.ndarray | dict[str, np.ndarray | tuple[np.ndarray, np.ndarray]],
    labels: np.ndarray | None,
    title: str = "",
    size: float = 5.0,
):
    """A reliability diagram (top-label, equal-mass bins) as a matplotlib ``Figure``.

    ``probs`` may be one array or a mapping of curve name to array (e.g. before / after), all
    scored against ``labels``; a curve may also bring its own labels as ``(probs, labels)``.
    Curves with no rows are left out. Drawn without pyplot (no global state).
    """
    from matplotlib.figure import Figure

    curves = probs if isinstance(probs, dict) else {"model": probs}
    fig = Figure(figsize=(size, size), dpi=100, layout="tight")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    for name, curve in curves.items():
        curve, curve_labels = curve if isinstance(curve, tuple) else (curve, labels)
        if len(curve_labels) == 0:
            continue
        bins = reliability_bins(curve, curve_labels)
        ece = expected_calibration_error(curve, curve_labels)
        ax.plot(
            [c for c, _, _ in bins],
            [a for _, a, _ in bins],
            marker="o",
            label=f"{name} (ECE {ece:.3f})",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top label)")
    ax.set_ylabel("accuracy")
    ax.set_title(title or "Reliability diagram")
    ax.legend(loc="upper left", fontsize="small")
    return fig


def reliability_diagram(
    probs: np.ndarray | dict[str, np.ndarray | tuple[np.ndarray, np.ndarray]],
    labels: np.ndarray | None,
    path: Path,
    title: str = "",
) -> Path:
    """Write ``reliability_figure`` as a PNG; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    reliability_figure(probs, labels, title).savefig(path)
    return path
