"""The lexical bias model and the debiased training weights (experts.training.bias)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from experts.training import bias, specs, train_run
from experts.training.loop import pair_loss


def _overlap_labels(n: int, seed: int = 0) -> pd.DataFrame:
    """A source where copying the evidence means supported and new words mean not: except
    for a tenth of the rows, where the label goes against the overlap."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        evidence = f"The harbour town of Velmar{i} exports salted cod and amber every spring."
        copied = rng.random() < 0.5
        claim = (
            f"Velmar{i} exports salted cod every spring."
            if copied
            else f"Velmar{i} imports refined copper from distant mountain mines."
        )
        label = "supported" if copied else "not_enough_info"
        if i % 10 == 0:  # overlap misleads on these
            label = "not_enough_info" if copied else "supported"
        rows.append((evidence, claim, label, "overlap_source"))
    return pd.DataFrame(rows, columns=["evidence", "claim", "label", "dataset"])


def test_features_see_overlap_new_words_negations_and_numbers() -> None:
    def named(evidence: str, claim: str) -> dict[str, float]:
        return dict(zip(bias.FEATURES, bias.lexical_features(evidence, claim), strict=True))

    same = named("Ann owns 3 cats.", "Ann owns 3 cats.")
    other = named("Ann owns 3 cats.", "Ann does not own 4 dogs.")
    assert same["word_overlap"] == 1.0 and same["bigram_overlap"] == 1.0
    assert same["new_words"] == 0.0 and same["new_numbers"] == 0.0
    assert other["word_overlap"] < 1.0 and other["new_words"] > 0.0
    assert other["new_negations"] == 1.0 and other["new_numbers"] == 1.0
    assert bias.feature_matrix(pd.DataFrame({"evidence": [], "claim": []})).shape == (0, 8)


def test_the_bias_model_is_sure_where_overlap_decides_and_wrong_where_it_misleads() -> None:
    frame = _overlap_labels(400)
    p = bias.bias_probabilities(frame, seed=0)
    misled = frame.index.to_numpy() % 10 == 0
    assert p.shape == (len(frame),) and ((p > 0) & (p < 1)).all()
    assert p[~misled].mean() > 0.8 and p[misled].mean() < 0.3


def test_debiased_weights_lift_the_rows_overlap_gets_wrong_and_keep_each_sources_share() -> None:
    frame = pd.concat(
        [_overlap_labels(300), _overlap_labels(100, seed=1).assign(dataset="small_source")],
        ignore_index=True,
    )
    w = bias.debiased_weights(frame, strength=0.8, seed=0)
    misled = np.r_[np.arange(300) % 10 == 0, np.arange(100) % 10 == 0]
    assert w[misled].mean() > 2 * w[~misled].mean()
    for name in ("overlap_source", "small_source"):
        assert w[(frame["dataset"] == name).to_numpy()].mean() == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(bias.debiased_weights(frame, 0.0, seed=0), 1.0)
    with pytest.raises(ValueError, match="debias strength"):
        bias.debiased_weights(frame, 1.5, seed=0)


def test_a_source_with_one_label_gets_its_share_and_weight_one() -> None:
    frame = _overlap_labels(20).assign(label="supported")
    assert np.allclose(bias.bias_probabilities(frame, seed=0), 1.0)
    assert np.allclose(bias.debiased_weights(frame, 1.0, seed=0), 1.0)


def test_a_debiased_stage_adds_row_weights_and_the_loss_uses_them() -> None:
    frame = _overlap_labels(200)
    out = train_run.phase_frame(frame, specs.Phase(0.3, 1e-5, debias=0.8), 0, 256, 160)
    assert "weight" in out.columns and out["weight"].std() > 0.1
    assert "weight" not in train_run.phase_frame(frame, specs.Phase(0.3, 1e-5), 0, 256, 160)

    logits = torch.tensor([[3.0, 0.0, 0.0], [-3.0, 0.0, 0.0]])
    targets = torch.tensor([0, 0])  # the first row is easy, the second hard
    plain = pair_loss(logits, targets, torch.ones(4))
    lifted = pair_loss(logits, targets, torch.ones(4), row_weights=torch.tensor([0.2, 1.8]))
    only_hard = pair_loss(logits[1:], targets[1:], torch.ones(4))
    assert plain < lifted < only_hard
