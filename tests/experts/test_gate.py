"""The gate: prior routing, training (its loss falls), versions, loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from experts.mixture.gate import LearnedGate, PriorGate, load_gate
from experts.registry import load_experts, load_registry
from experts.training.gate_training import expert_outputs, label_indices, mixture_loss, train_gate
from tests.experts.gate_data import labelled_rows
from tests.experts.tiny_models import write_registry

FAST = [
    {
        "name": "numbers",
        "kind": "numbers",
        "keywords": ["percent"],
        "patterns": [r"\d"],
        "domains": ["numbers"],
        "prior": 0.3,
    },
    {"name": "entities", "kind": "entities", "patterns": [r"(?<!^)\b[A-Z][a-z]+"], "prior": 0.3},
    {"name": "negation", "kind": "negation", "keywords": ["not", "never"], "prior": 0.3},
    {"name": "similarity", "kind": "similarity", "prior": 1.5},
]


@pytest.fixture
def registry(home: Path, tmp_path: Path) -> Path:
    return write_registry(tmp_path / "reg.yaml", FAST)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return labelled_rows()


def test_prior_gate_follows_keywords_and_domains(registry: Path) -> None:
    gate = PriorGate(load_registry(registry), boost=1.5)
    probs = gate.probs(
        [("Sales rose 5 percent.", "e"), ("the sky is blue.", "e"), ("it is not blue.", "e")],
        [None, "numbers", None],
    )
    names = gate.expert_names
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert names[probs[0].argmax()] == "numbers"
    assert names[probs[1].argmax()] == "similarity"
    assert probs[1, names.index("numbers")] > probs[1, names.index("negation")]  # domain match
    assert names[np.argsort(probs[2])[-2]] == "negation"


def test_training_reduces_the_mixture_loss_and_saves_versions(
    registry: Path, rows: list[dict], tmp_path: Path
) -> None:
    experts = load_experts(registry=registry)
    pairs = [(r["claim"], r["evidence"]) for r in rows]
    labels = [r["label"] for r in rows]
    outputs = expert_outputs(experts, pairs)
    path = tmp_path / "gate.pt"
    result = train_gate(pairs, labels, experts, outputs=outputs, k=2, epochs=150, path=path)
    assert result.final_loss < result.initial_loss - 0.05
    assert result.final_loss < result.uniform_loss
    assert result.losses[-1] < result.losses[0]
    assert result.version == "v1" and path.exists()
    assert sum(result.utilisation.values()) == pytest.approx(1.0)
    again = train_gate(pairs, labels, experts, outputs=outputs, k=2, epochs=5, path=path)
    assert again.version == "v2"
    gate = load_gate(load_registry(registry), path)
    assert isinstance(gate, LearnedGate) and gate.version == "v2"
    probs = gate.probs(pairs[:3])
    assert probs.shape == (3, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_an_expert_the_gate_never_saw_brings_back_the_prior(
    registry: Path, rows: list[dict], tmp_path: Path
) -> None:
    path = tmp_path / "gate.pt"
    small = write_registry(tmp_path / "small.yaml", FAST[:3])
    train_gate(
        [(r["claim"], r["evidence"]) for r in rows[:14]],
        [r["label"] for r in rows[:14]],
        load_experts(registry=small),
        epochs=3,
        path=path,
    )
    assert isinstance(load_gate(load_registry(small), path), LearnedGate)
    assert isinstance(load_gate(load_registry(registry), path), PriorGate)  # similarity is new


def test_prior_weight_adds_the_registry_prior_to_a_learned_gate(
    registry: Path, rows: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from verdictflow.config import reset_settings

    path = tmp_path / "gate.pt"
    experts = load_experts(registry=registry)
    pairs = [(r["claim"], r["evidence"]) for r in rows]
    train_gate(pairs, [r["label"] for r in rows], experts, k=2, epochs=20, path=path)
    specs = load_registry(registry)
    learned = load_gate(specs, path)
    monkeypatch.setenv("VERDICTFLOW_EXPERTS__GATE_PRIOR_WEIGHT", "3")
    reset_settings()
    mixed = load_gate(specs, path)
    assert learned.version == "v1" and mixed.version == "v1+prior3"
    probe = [("Sales rose 5 percent in 2019.", "Sales rose 4 percent in 2019.")]
    names = mixed.expert_names
    at = names.index("numbers")
    prior = PriorGate(specs).probs(probe)
    # log p_mixed = log p_learned + 3 log p_prior + const: the prior's favourite gains.
    expected = np.log(learned.probs(probe)) + 3 * np.log(prior)
    expected = np.exp(expected - expected.max()) / np.exp(expected - expected.max()).sum()
    np.testing.assert_allclose(mixed.probs(probe), expected, atol=1e-6)
    assert mixed.probs(probe)[0, at] > learned.probs(probe)[0, at]
    monkeypatch.delenv("VERDICTFLOW_EXPERTS__GATE_PRIOR_WEIGHT")
    reset_settings()


def test_balance_term_penalises_a_collapsed_gate() -> None:
    n, e = 40, 4
    outputs = torch.full((n, e, 3), 1 / 3)
    labels = torch.zeros(n, dtype=torch.long)
    spread = torch.zeros(n, e)
    spread[torch.arange(n), torch.arange(n) % e] = 3.0
    collapsed = torch.zeros(n, e)
    collapsed[:, 0] = 3.0
    _, nll_a, bal_spread = mixture_loss(spread, outputs, labels, 1, 0.01)
    _, nll_b, bal_collapsed = mixture_loss(collapsed, outputs, labels, 1, 0.01)
    assert torch.isclose(nll_a, nll_b)  # same predictions, so only the balance term differs
    assert bal_collapsed > 2 * bal_spread


def test_bad_labels_are_named() -> None:
    np.testing.assert_array_equal(
        label_indices(["supported", "not_supported", "contradicted", 2]), [0, 2, 1, 2]
    )
    with pytest.raises(ValueError, match="labelled pair 1: unknown label 'maybe'"):
        label_indices(["supported", "maybe"])


def test_two_class_labels_credit_any_label_but_supported() -> None:
    from experts.training.gate_training import NOT_SUPPORTED

    labels = torch.from_numpy(label_indices(["not_supported"], not_supported=NOT_SUPPORTED))
    outputs = torch.tensor([[[0.1, 0.6, 0.3], [0.1, 0.3, 0.6]]])  # both experts: 0.9 not sup.
    _, nll, _ = mixture_loss(torch.zeros(1, 2), outputs, labels, 2, 0.0)
    assert torch.isclose(nll, -torch.log(torch.tensor(0.9)), atol=1e-6)
