"""Quality metrics of verdicts against gold labels, and the plots that go with them.

Class indices follow ``LABELS`` (0 supported, 1 contradicted, 2 not_enough_info). A data set
whose gold labels never say "contradicted" (HaluEval: supported / not_supported) is scored as a
binary task, supported versus not, so a hallucination called "contradicted" is not counted as
wrong. ECE is ``experts.decision.calibration``'s (top-label, 15 equal-mass bins); the rest come from
scikit-learn where it has the metric.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np

from experts.decision.calibration import expected_calibration_error
from verdictflow.contracts import CONTRADICTED, NOT_ENOUGH_INFO, SUPPORTED

Task = Literal["binary", "3-class"]
METRICS = (
    "balanced_accuracy",
    "macro_f1",
    "auroc",
    "ece",
    "abstention_rate",
    "selective_accuracy",
    "accuracy",
)


def balanced_accuracy(y_true: Any, y_pred: Any) -> float:
    """Mean recall over the classes present in ``y_true``."""
    from sklearn.metrics import balanced_accuracy_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        return float("nan")
    with warnings.catch_warnings():  # predicted classes absent from the gold are expected
        warnings.simplefilter("ignore", UserWarning)
        return float(balanced_accuracy_score(y_true, y_pred))


def macro_f1(y_true: Any, y_pred: Any) -> float:
    """Unweighted mean F1 over every class seen in ``y_true`` or ``y_pred``."""
    from sklearn.metrics import f1_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        return float("nan")
    labels = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def auroc(y_positive: Any, score: Any) -> float:
    """Area under the ROC curve of ``score`` for the positive rows (NaN with one class only)."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y_positive, dtype=bool)
    if len(y) == 0 or y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, np.asarray(score, dtype=np.float64)))


def abstention_rate(abstained: Any) -> float:
    """Share of rows abstained on (NaN for no rows)."""
    abstained = np.asarray(abstained, dtype=bool)
    return float(abstained.mean()) if len(abstained) else float("nan")


def selective_accuracy(y_true: Any, y_pred: Any, abstained: Any) -> float:
    """Accuracy on the rows not abstained on (NaN when every row abstained)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    kept = ~np.asarray(abstained, dtype=bool)
    if not kept.any():
        return float("nan")
    return float(np.mean(y_true[kept] == y_pred[kept]))


def task_of(gold: Any) -> Task:
    """ "3-class" when the gold labels say contradicted anywhere, else "binary"."""
    return "3-class" if np.any(np.asarray(gold) == CONTRADICTED) else "binary"


def binary_probs(p_supported: Any) -> np.ndarray:
    """[n, 3] probabilities (p, 0, 1 - p): binary supported-vs-not in the 3-class layout."""
    p = np.clip(np.asarray(p_supported, dtype=np.float64), 0.0, 1.0)
    return np.stack([p, np.zeros_like(p), 1.0 - p], axis=1)


def in_task_space(gold: Any, probs: Any, task: Task) -> tuple[np.ndarray, np.ndarray]:
    """Gold indices and the probabilities calibration is judged on, for ``task``: a binary
    task folds every non-supported label into not_enough_info and uses (p, 0, 1 - p)."""
    gold = np.asarray(gold, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64).reshape(len(gold), 3)
    if task == "binary":
        return np.where(gold == SUPPORTED, SUPPORTED, NOT_ENOUGH_INFO), binary_probs(probs[:, 0])
    return gold, probs


def threshold_predictions(
    probs: np.ndarray, task: Task, support_threshold: float, contradiction_threshold: float
) -> np.ndarray:
    """Class indices at the calibrated thresholds (binary: supported or not_enough_info)."""
    probs = np.asarray(probs, dtype=np.float64)
    supported = probs[:, SUPPORTED] >= support_threshold
    if task == "binary":
        return np.where(supported, SUPPORTED, NOT_ENOUGH_INFO)
    # The same rule as experts.decision.uncertainty.threshold_indices, at explicit thresholds.
    out = np.full(len(probs), NOT_ENOUGH_INFO, dtype=np.int64)
    contradicted = (probs[:, CONTRADICTED] > contradiction_threshold) & (
        probs[:, CONTRADICTED] >= probs[:, NOT_ENOUGH_INFO]
    )
    out[contradicted] = CONTRADICTED
    out[supported] = SUPPORTED
    return out


def _counts(indices: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(indices, return_counts=True)
    return {str(int(k)): int(v) for k, v in zip(values, counts, strict=True)}


def _nan_to_none(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 6)


def evaluation_metrics(
    gold: Any,
    probs: Any,
    abstained: Any,
    task: Task | None = None,
    support_threshold: float = 0.5,
    contradiction_threshold: float = 1 / 3,
) -> dict[str, Any]:
    """Every evaluation figure for calibrated probabilities against gold labels.

    Args:
        gold: [n] gold class indices (into LABELS; "unsupported"/"not_supported" are 2).
        probs: [n, 3] calibrated probabilities of the deciding claim of each item.
        abstained: [n] whether the pipeline abstained (verdict "uncertain").
        task: "binary" (supported vs not) or "3-class"; None: ``task_of(gold)``.
        support_threshold, contradiction_threshold: the verdict thresholds in force.

    Returns:
        n, task, balanced_accuracy, macro_f1 and accuracy at the thresholds (every row),
        auroc (p_supported, supported vs not), ece (binary probabilities for a binary task),
        abstention_rate, selective_accuracy (rows not abstained) and the label counts.
        Undefined figures (one class only, everything abstained) are None.
    """
    gold = np.asarray(gold, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64).reshape(len(gold), 3)
    abstained = np.asarray(abstained, dtype=bool)
    task = task or task_of(gold)
    gold, ece_probs = in_task_space(gold, probs, task)
    pred = threshold_predictions(probs, task, support_threshold, contradiction_threshold)
    figures = {
        "balanced_accuracy": balanced_accuracy(gold, pred),
        "macro_f1": macro_f1(gold, pred),
        "auroc": auroc(gold == SUPPORTED, probs[:, SUPPORTED]),
        "ece": expected_calibration_error(ece_probs, gold) if len(gold) else float("nan"),
        "abstention_rate": abstention_rate(abstained),
        "selective_accuracy": selective_accuracy(gold, pred, abstained),
        "accuracy": float(np.mean(gold == pred)) if len(gold) else float("nan"),
    }
    return {
        "n": int(len(gold)),
        "task": task,
        **{k: _nan_to_none(v) for k, v in figures.items()},
        "gold_counts": _counts(gold),
        "pred_counts": _counts(pred),
    }


def roc_curve_png(curves: dict[str, tuple[Any, Any]], path: Path, title: str = "") -> Path:
    """Write ROC curves (one per name: (y_positive, score)) as a PNG; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    try:
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
        for name, (y, score) in curves.items():
            y = np.asarray(y, dtype=bool)
            if y.all() or not y.any():
                continue
            fpr, tpr, _ = roc_curve(y, np.asarray(score, dtype=np.float64))
            ax.plot(fpr, tpr, label=f"{name} (AUROC {auroc(y, score):.3f})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate (supported)")
        ax.set_title(title or "ROC: p_supported, supported vs not")
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def reliability_png(curves: dict[str, tuple[Any, Any]], path: Path, title: str = "") -> Path:
    """A reliability diagram with one curve per name: (probs [n, 3], labels [n]).

    Drawn by ``experts.decision.calibration.reliability_diagram``, so it matches the ECE figures."""
    from experts.decision.calibration import reliability_diagram

    return reliability_diagram(curves, None, path, title)
