"""The learned combiner: it learns which expert to trust, ships as JSON, and the scorer uses it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from experts.mixture.scoring import Scorer
from experts.mixture.stacking import Stacker, fit_stacker, load_stacker, stack_features
from experts.registry import load_experts
from experts.training.stacking_training import fit_combiner
from tests.experts.gate_data import labelled_rows
from tests.experts.test_gate import FAST
from tests.experts.tiny_models import write_registry
from verdictflow.contracts import Claim, Evidence


def _toy(n: int = 400, seed: int = 0):
    """Two experts: ``good`` reads the label, ``noise`` is random; both always routed."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.5
    good = np.where(y[:, None], [0.7, 0.1, 0.2], [0.3, 0.5, 0.2]) + rng.normal(0, 0.15, (n, 3))
    good = np.clip(good, 0.01, None)
    good /= good.sum(axis=1, keepdims=True)
    noise = rng.dirichlet([1, 1, 1], n)
    outputs = {"good": good, "noise": noise}
    mask = np.ones((n, 2), dtype=bool)
    return stack_features(mask, outputs, ["good", "noise"], np.zeros((n, 1))), y, outputs


def test_it_learns_to_trust_the_expert_that_reads_the_label() -> None:
    from sklearn.metrics import roc_auc_score

    x, y, outputs = _toy()
    stacker = fit_stacker(x[:300], y[:300], ["good", "noise"])
    p = stacker.p_supported(x[300:])
    averaged = 0.5 * (outputs["good"][300:, 0] + outputs["noise"][300:, 0])
    assert roc_auc_score(y[300:], p) > roc_auc_score(y[300:], averaged) + 0.03
    # [routed, p_sup, p_con, p_nei] per expert: the good expert's p_supported weighs most.
    weights = np.abs(stacker.coef[:8]).reshape(2, 4)
    assert weights[0, 1] > 3 * weights[1, 1]


def test_combine_keeps_the_mixtures_ratio_of_contradicted_to_nei() -> None:
    x, y, outputs = _toy(200)
    stacker = fit_stacker(x, y, ["good", "noise"])
    mixed = np.array([[0.2, 0.6, 0.2], [0.5, 0.0, 0.0]])
    out = stacker.combine(mixed, x[:2])
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert out[0, 1] == pytest.approx(3 * out[0, 2])  # 0.6 : 0.2
    assert out[1, 1] == pytest.approx(out[1, 2])  # no mass left: split evenly
    np.testing.assert_allclose(out[:, 0], stacker.p_supported(x[:2]))


def test_fitted_for_other_experts_it_steps_aside(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    x, y, _ = _toy(100)
    path = fit_stacker(x, y, ["good", "noise"]).save(home / "models" / "stacker.json")
    again = Stacker.read(path)
    np.testing.assert_allclose(
        again.p_supported(x), fit_stacker(x, y, ["good", "noise"]).p_supported(x)
    )
    assert load_stacker(["good", "noise"]) is not None
    with caplog.at_level(logging.WARNING):
        assert load_stacker(["good", "noise", "domain-expert"]) is None
    assert "domain-expert" in caplog.text


def test_the_scorer_combines_with_the_fitted_combiner(home: Path, tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "reg.yaml", FAST)
    experts = load_experts(registry=registry)
    rows = labelled_rows()
    pairs = [(r["claim"], r["evidence"]) for r in rows]
    result = fit_combiner(pairs, [r["label"] for r in rows], experts, registry=str(registry))
    assert Path(result["path"]) == home / "models" / "stacker.json"
    assert set(result["figures"]) >= {"combiner", "mixture", "expert:numbers"}

    claims = [
        Claim(claim_id=f"c{i}", item_id=f"i{i}", index=0, text=c, start=0, end=len(c))
        for i, (c, _) in enumerate(pairs)
    ]
    evidence = {
        c.claim_id: [
            Evidence(claim_id=c.claim_id, doc_id="d", chunk_id="d#0", text=e, score=1.0, rank=1)
        ]
        for c, (_, e) in zip(claims, pairs, strict=True)
    }
    stacked = Scorer(str(registry)).score(claims, evidence)
    assert stacked.report["combiner"] == "stack-v1"
    stacker = load_stacker(list(experts))
    assert stacker is not None

    from verdictflow.config import get_settings

    get_settings().experts.stacking = False
    plain = Scorer(str(registry)).score(claims, evidence)
    assert plain.report["combiner"] == "mixture"
    changed = [
        abs(a.probs[0] - b.probs[0]) > 1e-6
        for a, b in zip(stacked.scores, plain.scores, strict=True)
    ]
    assert sum(changed) > len(changed) // 2  # the combiner, not the mixture, decided
    for s in stacked.scores:
        assert sum(s.probs) == pytest.approx(1.0)


def test_the_scorer_keeps_chunks_about_another_subject_from_deciding(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from experts.mixture import scoring
    from verdictflow.config import get_settings

    registry = write_registry(tmp_path / "reg.yaml", FAST)
    text = "The Fjell S1 weighs 2 kg."
    claim = Claim(claim_id="c", item_id="i", index=0, text=text, start=0, end=len(text))
    chunks = {
        "aurora.md#0": "The Aurora X2 weighs 3 kg.",
        "fjell.md#0": "The Fjell S1 weighs 2 kg.",
    }
    evidence = {
        "c": [
            Evidence(claim_id="c", doc_id=k.split("#")[0], chunk_id=k, text=v, score=1.0, rank=i)
            for i, (k, v) in enumerate(chunks.items(), start=1)
        ]
    }
    seen = []
    real = scoring.combine

    def spy(*args):
        seen.append(args[7])
        return real(*args)

    monkeypatch.setattr(scoring, "combine", spy)
    with_rule = Scorer(str(registry)).score([claim], evidence).scores[0]
    assert seen[-1].tolist() == [False, True]  # the other product's sheet is off subject
    assert with_rule.best_chunk_id == "fjell.md#0"
    get_settings().experts.subject_rule = False
    Scorer(str(registry)).score([claim], evidence)
    assert seen[-1] is None


def test_it_steps_aside_for_pairs_routed_to_an_expert_it_never_saw_routed() -> None:
    """The fit never saw ``unseen`` routed (as the shipped stacker never saw nli-long): a pair
    routed to it keeps the mixture's probabilities; the others get the stacker's."""
    from experts.mixture.stacking import stacked

    names = ["good", "noise", "unseen"]
    rng = np.random.default_rng(1)
    n = 300
    y = rng.random(n) < 0.5
    outputs = {name: rng.dirichlet([1, 1, 1], n) for name in names}
    outputs["good"][:, 0] = np.where(y, 0.8, 0.2)
    fit_mask = np.zeros((n, 3), dtype=bool)
    fit_mask[:, [0, 1]] = True
    stacker = fit_stacker(stack_features(fit_mask, outputs, names, np.zeros((n, 1))), y, names)
    assert stacker.never_routed == ["unseen"]

    mask = np.array([[True, True, False], [True, False, True]])
    rows = {name: out[:2] for name, out in outputs.items()}
    features = stack_features(mask, rows, names, np.zeros((2, 1)))
    mixed = np.array([[0.3, 0.3, 0.4], [0.2, 0.5, 0.3]])
    out = stacked(stacker, mixed, features, mask, names)
    np.testing.assert_allclose(out[0], stacker.combine(mixed, features)[0])
    np.testing.assert_allclose(out[1], mixed[1])
