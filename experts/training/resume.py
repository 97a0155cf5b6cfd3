"""Staged training resumed from a shipped expert when its checkpoints are gone.

A corpus spec trains in stages (``TrainingSpec.phases``); each finished stage leaves its
weights and result in ``checkpoints/<name>/phase-k/model``, and the next run skips it. The
checkpoints live in an ignored folder that does not always outlive a session, so the shipped
expert also records its stages (``stages.json``: each stage's settings and its dev curve).
``restore_stages`` rebuilds the finished stages' results from it, and the last one's weights
from the shipped folder, so that a stage added to the spec starts where the shipped model
ends instead of from the base weights.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from experts.training.specs import Phase, TrainingSpec, TrainResult

STAGES_FILE = "stages.json"


def write_stages(out_dir: Path, phases: tuple[Phase, ...], result: TrainResult) -> Path:
    """Record the stages ``result`` ran (its history carries each entry's ``phase``)."""
    ran = max((h.get("phase", 1) for h in result.history), default=0)
    if result.out_of_time:  # the last stage is unfinished: it is not a finished stage
        ran -= 1
    path = out_dir / STAGES_FILE
    stages = {"phases": [asdict(p) for p in phases[:ran]], "history": result.history}
    path.write_text(json.dumps(stages, indent=1) + "\n")
    return path


def restore_stages(spec: TrainingSpec, phases: tuple[Phase, ...], shipped: Path, work: Path) -> int:
    """Rebuild ``work/phase-k/model`` of the finished stages recorded beside the shipped expert
    ``shipped``, as long as they are the spec's own first stages (same settings); returns how
    many stages are done (0: nothing to restore, or checkpoints already there)."""
    path = shipped / STAGES_FILE
    if not path.exists() or any(work.glob("phase-*")):
        return 0
    stages = json.loads(path.read_text())
    recorded = [Phase(**p) for p in stages["phases"]]
    if not recorded or tuple(recorded) != phases[: len(recorded)]:
        return 0
    offset = 0
    for k in range(1, len(recorded) + 1):
        history = [
            {**{key: v for key, v in h.items() if key != "phase"}, "step": h["step"] - offset}
            for h in stages["history"]
            if h.get("phase", 1) == k
        ]
        best = max(history, key=lambda h: h["dev"]["mean"])
        result = TrainResult(
            name=spec.name,
            steps=history[-1]["step"],
            best_step=best["step"],
            best_dev=best["dev"]["mean"],
            history=history,
            train_pairs_per_s=history[-1].get("pairs_per_s", 0.0),
        )
        done = work / f"phase-{k}" / "model"
        done.mkdir(parents=True, exist_ok=True)
        if k == len(recorded):  # the shipped weights are the last finished stage's
            for f in shipped.iterdir():
                if f.is_file() and f.name not in (STAGES_FILE, "model_card.md"):
                    shutil.copy2(f, done / f.name)
        (done / "result.json").write_text(json.dumps(asdict(result)))
        offset += result.steps
    return len(recorded)
