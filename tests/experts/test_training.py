"""Expert training: a tiny real model learns, resumes exactly, and ships in the agreed format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from experts.training.loop import (
    BINARY_LABELS,
    EXPERT_SPECS,
    TrainConfig,
    build_model,
    class_weights,
    load_expert,
    pair_loss,
    predict_proba,
    save_expert,
    target_ids,
    train_expert,
)
from experts.verifiers.cross_encoder import encode
from verdictflow.contracts import LABELS

WORDS = {
    "animals": "fox owl cat dog bee ant cow pig yak elk emu eel bat ram hen",
    "foods": "apples honey grass fish seeds bread rice nuts berries leaves corn plums eggs",
    "places": "forest river desert city farm valley island meadow cave mountain",
    "firms": "Acme Globex Initech Umbrella Hooli Vandelay Stark Wayne",
    "days": "Monday Tuesday Wednesday Thursday Friday",
}
ANIMALS, FOODS, PLACES, FIRMS, DAYS = (words.split() for words in WORDS.values())


def synthetic(n: int, seed: int) -> pd.DataFrame:
    """Supported: the claim restates the evidence; not supported: an unrelated claim."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        animal, food, place = rng.choice(ANIMALS), rng.choice(FOODS), rng.choice(PLACES)
        evidence = f"The {animal} lives in the {place}. The {animal} eats {food} every day."
        if i % 2 == 0:
            rows.append((evidence, f"The {animal} eats {food}.", "supported"))
        else:
            claim = (
                f"Shares of {rng.choice(FIRMS)} rose {rng.integers(2, 40)}% on {rng.choice(DAYS)}."
            )
            rows.append((evidence, claim, "not_supported"))
    return pd.DataFrame(rows, columns=["evidence", "claim", "label"]).assign(dataset="synthetic")


def tiny_config(**overrides) -> TrainConfig:
    cfg = TrainConfig.from_settings(quick=True)
    cfg.max_steps, cfg.eval_every, cfg.dev_pairs = 30, 10, 60
    cfg.max_train_pairs, cfg.max_length, cfg.threads = 240, 48, 1
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """One tiny 2-layer model trained for 30 steps on 240 synthetic pairs."""
    work = tmp_path_factory.mktemp("tiny")
    dev = synthetic(60, seed=1)
    model, result = train_expert(
        "tiny", BINARY_LABELS, synthetic(240, seed=0), dev, tiny_config(), work, log=lambda _: None
    )
    return model, result, dev, work


@pytest.mark.slow
def test_tiny_training_loss_falls_and_dev_beats_chance(trained) -> None:
    model, result, dev, work = trained
    losses = [h["train_loss"] for h in result.history]
    assert len(losses) == 3 and result.steps == 30
    assert losses[-1] < 0.5 * losses[0], losses
    probs = predict_proba(model, dev["evidence"], dev["claim"])
    accuracy = float(((probs[:, 0] >= 0.5) == (dev["label"] == "supported")).mean())
    assert accuracy > 0.75, accuracy
    assert result.best_dev > 0.75
    assert (work / "last.pt").exists()
    assert model.config.num_hidden_layers == 2


@pytest.mark.slow
def test_resume_from_checkpoint_reproduces_the_uninterrupted_run(tmp_path: Path, trained) -> None:
    model, result, dev, _ = trained

    class Interrupted(Exception):
        pass

    def stop_at_10(line: str) -> None:
        if "step 10/" in line:
            raise Interrupted(line)

    train = synthetic(240, seed=0)
    with pytest.raises(Interrupted):
        train_expert("tiny", BINARY_LABELS, train, dev, tiny_config(), tmp_path, log=stop_at_10)
    ckpt = torch.load(tmp_path / "last.pt", weights_only=False)
    assert ckpt["result"]["steps"] == 10
    resumed, again = train_expert(
        "tiny", BINARY_LABELS, train, dev, tiny_config(), tmp_path, log=lambda _: None
    )
    assert again.resumed_from == 10 and again.steps == 30
    assert [h["step"] for h in again.history] == [10, 20, 30]
    assert again.best_step == result.best_step
    for (name, a), b in zip(model.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-5), name


@pytest.mark.slow
def test_saved_expert_is_the_shipped_format(tmp_path: Path, trained) -> None:
    model, _, dev, _ = trained
    spec = EXPERT_SPECS["qa"]
    out = save_expert(model, spec, tmp_path / "qa", "# card\n")
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "supported", "1": "not_supported"}
    meta = json.loads((out / "verdictflow.json").read_text())
    assert meta == {
        "input_order": "evidence_claim",
        "max_length": 48,
        "domains": list(spec.domains),
        "labels": ["supported", "not_supported"],
    }
    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), "pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}  # noqa: SIM118
    assert dtypes == {torch.float16}
    assert (out / "model_card.md").read_text() == "# card\n"
    loaded, loaded_meta = load_expert(out)
    before = predict_proba(model, dev["evidence"], dev["claim"])
    after = predict_proba(loaded, dev["evidence"], dev["claim"])
    assert loaded_meta["max_length"] == 48
    assert np.abs(before - after).max() < 0.02


def test_three_class_loss_treats_not_supported_as_one_minus_supported() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    probs = torch.softmax(logits, dim=-1)
    targets = torch.tensor([3, 1])
    loss = pair_loss(logits, targets, torch.ones(4))
    expected = -(torch.log(1 - probs[0, 0]) + torch.log(probs[1, 1])) / 2
    assert torch.allclose(loss, expected, atol=1e-6)
    assert target_ids(["supported", "not_supported", "not_enough_info"], LABELS).tolist() == [
        0,
        3,
        2,
    ]
    assert target_ids(["contradicted", "supported"], BINARY_LABELS).tolist() == [1, 0]
    with pytest.raises(ValueError, match="unknown label"):
        target_ids(["maybe"], LABELS)


def test_class_weights_balance_the_classes() -> None:
    weights = class_weights(np.array([0, 0, 0, 1]), 3)
    assert weights[1] == pytest.approx(3 * weights[0])
    assert weights[2] == 0


def test_long_claims_keep_their_tail_and_respect_max_length() -> None:
    model = build_model(BINARY_LABELS, num_layers=1, max_length=64)
    evidence = ["word " * 200, "short evidence"]
    claims = ["a claim", "very " * 100 + "long claim"]
    ids = encode(model, evidence, claims)["input_ids"]
    assert ids.shape[1] <= 64
    assert model.tokenizer.decode(ids[0]).endswith("[SEP] a claim [SEP]")
    assert model.tokenizer.decode(ids[1]).startswith("[CLS] short evidence [SEP] very")


def test_expert_order_puts_the_generalist_first_and_refuses_unknown_names() -> None:
    from flows.train import expert_order

    assert expert_order(["long_sources", "generalist"]) == ["generalist", "long_sources"]
    assert expert_order(None) == list(EXPERT_SPECS)
    with pytest.raises(ValueError, match="unknown expert"):
        expert_order(["poet"])


def test_cli_refuses_an_unknown_expert() -> None:
    import typer
    from typer.testing import CliRunner

    from deployments.cli_train import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps typer's sub-command form
    result = CliRunner().invoke(app, ["train-experts", "--expert", "poet"])
    assert result.exit_code == 2
    assert "poet" in result.output


@pytest.mark.slow
@pytest.mark.downloads
def test_cli_quick_training_runs_the_flow_and_ships_an_expert(
    home: Path,
    prefect_harness,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    download_cache: Path,
) -> None:
    import typer
    from typer.testing import CliRunner

    from deployments.cli_train import register
    from verdictflow.config import reset_settings

    monkeypatch.setenv("VERDICTFLOW_TRAINING__DATA_DIR", str(download_cache))
    monkeypatch.setenv("VERDICTFLOW_TRAINING__QUICK_STEPS", "6")
    monkeypatch.setenv("VERDICTFLOW_TRAINING__QUICK_PAIRS", "64")
    monkeypatch.setenv("VERDICTFLOW_TRAINING__THREADS", "1")
    reset_settings()
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    out = tmp_path / "models"
    result = CliRunner().invoke(
        app, ["train-experts", "--quick", "--expert", "qa", "--output-dir", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["name"] == "qa" and summary["test"]["halueval_qa"]["pairs"] == 64
    assert summary["cpu_pairs_per_s"] > 0
    card = (out / "qa" / "model_card.md").read_text()
    assert "halueval_qa" in card and "sha256" in card
    meta = json.loads((out / "qa" / "verdictflow.json").read_text())
    assert meta["labels"] == ["supported", "not_supported"]
    assert (home / "models" / "checkpoints" / "qa-quick" / "last.pt").exists()
    assert not list(out.glob("**/*.pt"))


def test_length_grouped_order_is_a_shuffled_permutation_of_similar_length_batches() -> None:
    from experts.training.loop import length_grouped_order

    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 128, size=1000)
    order = length_grouped_order(lengths, 8, np.random.default_rng(1), pool_batches=25)
    assert sorted(order.tolist()) == list(range(1000))
    batches = [lengths[order[i : i + 8]] for i in range(0, 1000, 8)]
    spread = np.mean([b.max() - b.min() for b in batches])
    random_spread = np.mean([b.max() - b.min() for b in np.array_split(lengths, 125)])
    assert spread < 0.2 * random_spread  # far less padding than random batches
    firsts = [int(b.max()) for b in batches[:20]]
    assert firsts != sorted(firsts)  # batch order is shuffled, not longest-first


def test_label_smoothing_mixes_in_the_mean_nll_over_the_labels() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    logp = torch.log_softmax(logits, dim=-1)
    targets = torch.tensor([0, 3])
    plain = pair_loss(logits, targets, torch.ones(4))
    smoothed = pair_loss(logits, targets, torch.ones(4), smoothing=0.1)
    expected = 0.9 * plain - 0.1 * logp.mean(dim=-1).mean()
    assert torch.allclose(smoothed, expected, atol=1e-6)
    # A confident right row costs more once smoothed: the logits are kept from growing.
    sure = torch.tensor([[9.0, -9.0, -9.0]])
    assert pair_loss(sure, torch.tensor([0]), torch.ones(4), smoothing=0.1) > pair_loss(
        sure, torch.tensor([0]), torch.ones(4)
    )


def test_run_seed_changes_the_order_but_not_the_splits(monkeypatch: pytest.MonkeyPatch) -> None:
    from experts.training import data as vdata
    from verdictflow.config import reset_settings

    frame = pd.DataFrame({"group": [f"g{i}" for i in range(200)], "claim": ["c"] * 200})
    before = vdata.splits(frame, "group")["test"]["group"].tolist()
    monkeypatch.setenv("VERDICTFLOW_TRAINING__RUN_SEED", "99")
    reset_settings()
    try:
        assert TrainConfig.from_settings().seed == 99
        assert vdata.splits(frame, "group")["test"]["group"].tolist() == before
    finally:
        monkeypatch.delenv("VERDICTFLOW_TRAINING__RUN_SEED")
        reset_settings()
    assert TrainConfig.from_settings().seed == 13


def test_distill_loss_is_zero_at_the_teacher_and_grows_away_from_it() -> None:
    from experts.training.loop import distill_loss

    teacher = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    assert float(distill_loss(teacher, teacher)) == pytest.approx(0.0, abs=1e-6)
    near = distill_loss(teacher + torch.tensor([[0.2, 0.0, 0.0], [0.0, 0.0, 0.0]]), teacher)
    far = distill_loss(torch.tensor([[-1.0, 0.5, 2.0], [0.3, 0.2, 0.1]]), teacher)
    assert 0 < float(near) < float(far)
