"""Evaluation metrics against values worked out by hand on tiny arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experts.evaluation.metrics import (
    abstention_rate,
    auroc,
    balanced_accuracy,
    evaluation_metrics,
    in_task_space,
    macro_f1,
    reliability_png,
    roc_curve_png,
    selective_accuracy,
    task_of,
)


def test_balanced_accuracy_is_the_mean_recall_per_class():
    # class 0: 3 of 4 right (0.75); class 2: 1 of 2 right (0.5) -> 0.625 (plain accuracy 4/6)
    y_true = [0, 0, 0, 0, 2, 2]
    y_pred = [0, 0, 0, 2, 2, 0]
    assert balanced_accuracy(y_true, y_pred) == pytest.approx(0.625)


def test_macro_f1_averages_f1_over_classes_seen_in_gold_or_predictions():
    # class 0: tp 3, fp 1, fn 1 -> F1 0.75; class 2: tp 1, fp 1, fn 1 -> F1 0.5
    assert macro_f1([0, 0, 0, 0, 2, 2], [0, 0, 0, 2, 2, 0]) == pytest.approx(0.625)
    # a class only predicted (1) counts with F1 0: (F1_0 = 2/3, F1_1 = 0) / 2
    assert macro_f1([0, 0], [0, 1]) == pytest.approx((2 / 3 + 0) / 2)


def test_auroc_counts_correctly_ordered_pairs():
    # positives 0.9, 0.4; negatives 0.6, 0.1: pairs (0.9>0.6, 0.9>0.1, 0.4<0.6, 0.4>0.1) -> 3/4
    assert auroc([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1]) == pytest.approx(0.75)
    # a tie counts one half
    assert auroc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert math.isnan(auroc([1, 1], [0.2, 0.3]))


def test_selective_accuracy_and_abstention_rate():
    y_true = [0, 1, 2, 0]
    y_pred = [0, 2, 2, 1]
    abstained = [False, True, False, False]
    # kept rows 0, 2, 3: right, right, wrong
    assert selective_accuracy(y_true, y_pred, abstained) == pytest.approx(2 / 3)
    assert abstention_rate(abstained) == pytest.approx(0.25)
    assert math.isnan(selective_accuracy(y_true, y_pred, [True] * 4))


def test_ece_of_the_report_matches_a_hand_computed_value():
    # Binary task: top-label confidences 0.9, 0.9, 0.6, 0.6 (p_supported 0.9, 0.1, 0.6, 0.4).
    # 15 equal-mass bins with ties kept together -> bins {0.6, 0.6} and {0.9, 0.9}.
    # Correct: row 0 (0.9 supported, gold supported) yes; row 1 (0.1 -> not, gold not) yes;
    # row 2 (0.6 -> supported, gold not) no; row 3 (0.4 -> not, gold supported) no.
    # ECE = 0.5 * |1.0 - 0.9| + 0.5 * |0.0 - 0.6| = 0.05 + 0.3 = 0.35
    probs = np.array([[0.9, 0.05, 0.05], [0.1, 0.2, 0.7], [0.6, 0.2, 0.2], [0.4, 0.3, 0.3]])
    gold = np.array([0, 2, 2, 0])
    m = evaluation_metrics(gold, probs, [False] * 4)
    assert m["task"] == "binary"
    assert m["ece"] == pytest.approx(0.35)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["balanced_accuracy"] == pytest.approx(0.5)
    assert m["auroc"] == pytest.approx(0.75)  # pos 0.9, 0.4 vs neg 0.1, 0.6


def test_three_class_report_uses_the_thresholds_and_counts_abstention():
    probs = np.array(
        [
            [0.7, 0.2, 0.1],  # supported
            [0.1, 0.8, 0.1],  # contradicted
            [0.3, 0.3, 0.4],  # neither threshold: not_enough_info
            [0.55, 0.4, 0.05],  # supported (p_sup >= 0.5), gold contradicted: wrong
        ]
    )
    gold = np.array([0, 1, 2, 1])
    assert task_of(gold) == "3-class"
    m = evaluation_metrics(gold, probs, [False, False, True, False])
    # recalls: class 0 1/1, class 1 1/2, class 2 1/1 -> 2.5 / 3
    assert m["balanced_accuracy"] == pytest.approx(2.5 / 3)
    # F1: class 0 (tp1 fp1) 2/3, class 1 (tp1 fn1) 2/3, class 2 1 -> (2/3 + 2/3 + 1) / 3
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert m["abstention_rate"] == pytest.approx(0.25)
    assert m["selective_accuracy"] == pytest.approx(2 / 3)  # rows 0, 1, 3 kept; 3 wrong
    assert m["pred_counts"] == {"0": 2, "1": 1, "2": 1}
    # stricter support and looser contradiction thresholds make row 3 contradicted: right
    stricter = evaluation_metrics(
        gold, probs, [False] * 4, support_threshold=0.6, contradiction_threshold=0.35
    )
    assert stricter["accuracy"] == pytest.approx(1.0)


def test_undefined_figures_are_none_not_nan():
    m = evaluation_metrics([0, 0], [[0.9, 0.05, 0.05], [0.8, 0.1, 0.1]], [True, True])
    assert m["auroc"] is None and m["selective_accuracy"] is None
    assert m["abstention_rate"] == 1.0


def test_plots_are_written(tmp_path):
    gold = np.array([0, 2, 2, 0])
    probs = np.array([[0.9, 0.05, 0.05], [0.1, 0.2, 0.7], [0.6, 0.2, 0.2], [0.4, 0.3, 0.3]])
    roc = roc_curve_png({"tiny": (gold == 0, probs[:, 0])}, tmp_path / "roc.png")
    binary_gold, binary_probs = in_task_space(gold, probs, "binary")
    assert binary_gold.tolist() == [0, 2, 2, 0]
    assert binary_probs[2].tolist() == pytest.approx([0.6, 0.0, 0.4])
    rel = reliability_png({"tiny": (binary_probs, binary_gold)}, tmp_path / "r.png")
    for path in (roc, rel):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
