"""Finished training stages restored from a shipped expert when the checkpoints are gone."""

from __future__ import annotations

import json
from pathlib import Path

from experts.training.resume import restore_stages, write_stages
from experts.training.specs import EXPERT_SPECS, Phase, TrainResult
from experts.training.train_run import merged_result

PHASES = (Phase(1.0, 4e-5), Phase(0.5, 2e-5, distractors=0.5), Phase(0.5, 1e-5))


def _result(steps: int, devs: list[float]) -> TrainResult:
    every = steps // len(devs)
    history = [
        {"step": every * (i + 1), "train_loss": 0.5, "dev": {"mean": d}, "pairs_per_s": 9.0}
        for i, d in enumerate(devs)
    ]
    best = max(history, key=lambda h: h["dev"]["mean"])
    return TrainResult("generalist", steps, best["step"], best["dev"]["mean"], history)


def _shipped(tmp_path: Path) -> tuple[Path, TrainResult, TrainResult]:
    first, second = _result(100, [0.6, 0.7]), _result(40, [0.72, 0.71])
    shipped = tmp_path / "models" / "generalist"
    shipped.mkdir(parents=True)
    (shipped / "model.safetensors").write_bytes(b"weights")
    (shipped / "model_card.md").write_text("card")
    write_stages(shipped, PHASES, merged_result("generalist", [(0, first), (100, second)]))
    return shipped, first, second


def test_finished_stages_come_back_as_they_were(tmp_path: Path) -> None:
    shipped, first, second = _shipped(tmp_path)
    stages = json.loads((shipped / "stages.json").read_text())
    assert len(stages["phases"]) == 2  # the third stage never ran
    work = tmp_path / "checkpoints" / "generalist"
    assert restore_stages(EXPERT_SPECS["generalist"], PHASES, shipped, work) == 2
    for k, want in ((1, first), (2, second)):
        got = TrainResult(**json.loads((work / f"phase-{k}/model/result.json").read_text()))
        assert (got.steps, got.best_step, got.best_dev) == (
            want.steps,
            want.best_step,
            want.best_dev,
        )
        assert [h["step"] for h in got.history] == [h["step"] for h in want.history]
    # The last finished stage's weights are the shipped ones; the card is not a weight file.
    assert (work / "phase-2/model/model.safetensors").read_bytes() == b"weights"
    assert not (work / "phase-1/model/model.safetensors").exists()
    assert not (work / "phase-2/model/model_card.md").exists()
    # Checkpoints present: nothing is overwritten.
    assert restore_stages(EXPERT_SPECS["generalist"], PHASES, shipped, work) == 0


def test_stages_that_differ_from_the_spec_are_not_restored(tmp_path: Path) -> None:
    shipped, _, _ = _shipped(tmp_path)
    changed = (Phase(1.0, 4e-5), Phase(0.5, 3e-5, distractors=0.5))
    work = tmp_path / "checkpoints" / "generalist"
    assert restore_stages(EXPERT_SPECS["generalist"], changed, shipped, work) == 0
    assert not work.exists()
    assert restore_stages(EXPERT_SPECS["generalist"], PHASES, tmp_path / "none", work) == 0
