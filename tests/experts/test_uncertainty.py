"""Verdicts with abstention, expert spread and Monte Carlo dropout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from experts.decision.uncertainty import (
    decide,
    expert_spread,
    mc_dropout,
    mutual_information,
    selective_accuracy,
    threshold_indices,
)
from verdictflow.contracts import VerdictLabel


@pytest.mark.parametrize(
    ("probs", "prediction_set", "expected"),
    [
        ((0.8, 0.1, 0.1), (0,), (VerdictLabel.SUPPORTED, False)),
        ((0.5, 0.3, 0.2), None, (VerdictLabel.SUPPORTED, False)),  # at the threshold
        ((0.1, 0.8, 0.1), (1,), (VerdictLabel.CONTRADICTED, False)),
        ((0.1, 0.1, 0.8), (2,), (VerdictLabel.UNSUPPORTED, False)),
        # Not supported: the likelier of contradicted and not-enough-info, if above chance.
        ((0.45, 0.45, 0.1), None, (VerdictLabel.CONTRADICTED, False)),
        ((0.3, 0.5, 0.2), None, (VerdictLabel.CONTRADICTED, False)),
        ((0.4, 0.3, 0.3), None, (VerdictLabel.UNSUPPORTED, False)),  # p_con not above 1/3
        ((0.2, 0.38, 0.42), None, (VerdictLabel.UNSUPPORTED, False)),  # p_nei is likelier
        ((0.8, 0.1, 0.1), (0, 1), (VerdictLabel.UNCERTAIN, True)),  # two labels
        ((0.4, 0.3, 0.3), (0, 1, 2), (VerdictLabel.UNCERTAIN, True)),  # all labels
        ((0.4, 0.3, 0.3), (), (VerdictLabel.UNCERTAIN, True)),  # empty set
    ],
)
def test_decide_cases(probs, prediction_set, expected) -> None:
    assert decide(probs, prediction_set) == expected


def test_decide_follows_threshold_settings(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from verdictflow.config import reset_settings

    assert decide((0.6, 0.2, 0.2), None)[0] is VerdictLabel.SUPPORTED
    monkeypatch.setenv("VERDICTFLOW_VERIFY__SUPPORT_THRESHOLD", "0.7")
    monkeypatch.setenv("VERDICTFLOW_VERIFY__CONTRADICTION_THRESHOLD", "0.3")
    reset_settings()
    assert decide((0.6, 0.2, 0.2), None)[0] is VerdictLabel.UNSUPPORTED
    assert decide((0.6, 0.35, 0.05), None)[0] is VerdictLabel.CONTRADICTED
    np.testing.assert_array_equal(
        threshold_indices(np.array([[0.6, 0.2, 0.2], [0.6, 0.35, 0.05], [0.75, 0.2, 0.05]])),
        [2, 1, 0],
    )


def test_decide_rejects_wrong_width() -> None:
    with pytest.raises(ValueError, match="3 probabilities"):
        decide((0.5, 0.5), None)


def test_expert_spread() -> None:
    agree = [np.array([0.8, 0.1, 0.1]), np.array([0.8, 0.1, 0.1])]
    mild = [np.array([0.8, 0.1, 0.1]), np.array([0.6, 0.2, 0.2])]
    strong = [np.array([0.9, 0.05, 0.05]), np.array([0.05, 0.9, 0.05])]
    assert expert_spread(agree, [0.5, 0.5]) == pytest.approx(0.0, abs=1e-12)
    assert expert_spread(agree[:1], [1.0]) == 0.0
    s_mild, s_strong = expert_spread(mild, [0.5, 0.5]), expert_spread(strong, [0.5, 0.5])
    assert 0.0 < s_mild < s_strong <= 1.0
    # Full confidence in opposite labels, equal weights: log 2 / log 3.
    opposite = [np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])]
    assert expert_spread(opposite, [1, 1]) == pytest.approx(np.log(2) / np.log(3))
    # A dissenter with no weight adds nothing; weights may be a mapping.
    assert expert_spread(strong, {"a": 1.0, "b": 0.0}) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="weights"):
        expert_spread(strong, [1.0])


def test_mutual_information_is_per_row() -> None:
    samples = np.array([[[0.9, 0.05, 0.05], [0.3, 0.3, 0.4]], [[0.9, 0.05, 0.05], [0.4, 0.3, 0.3]]])
    mi = mutual_information(samples)
    assert mi.shape == (2,)
    assert mi[0] == pytest.approx(0.0, abs=1e-12)
    assert mi[1] > 0


def test_mc_dropout_gives_epistemic_spread_and_restores_eval_mode() -> None:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(32, 3)
    )
    model.eval()
    x = torch.randn(16, 8)

    def forward() -> np.ndarray:
        return torch.softmax(model(x), dim=1).numpy()

    mean, epistemic = mc_dropout(model, forward, samples=20)
    assert mean.shape == (16, 3)
    np.testing.assert_allclose(mean.sum(axis=1), 1.0, atol=1e-6)
    assert epistemic.shape == (16,)
    assert np.all(epistemic > 0)
    assert not model[2].training
    # Without dropout every pass is the same: no epistemic spread.
    plain = torch.nn.Sequential(torch.nn.Linear(8, 3)).eval()
    _, none = mc_dropout(plain, lambda: torch.softmax(plain(x), 1).numpy(), samples=5)
    np.testing.assert_allclose(none, 0.0, atol=1e-9)
    with pytest.raises(ValueError, match="at least 2"):
        mc_dropout(model, forward)  # experts.mc_dropout_samples defaults to 0: off


def test_selective_accuracy() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    labels = np.array([0, 0, 2])
    assert selective_accuracy(probs, labels, np.array([False, False, False])) == pytest.approx(
        2 / 3
    )
    assert selective_accuracy(probs, labels, np.array([False, True, False])) == 1.0
    assert np.isnan(selective_accuracy(probs, labels, np.array([True, True, True])))
