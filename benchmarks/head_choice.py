"""A binary head against the shipped 3-way head (issue 26: "measure, decide, say why").

    python -m benchmarks.head_choice [--output-dir .verdictflow/head_choice]

Trains one stage of a two-label head (supported / not supported) on the shipped generalist's
encoder: the recipe of the generalist's last stage (0.3 passes of the corpus mix, its padded
premises, unrelated evidence and evidence windows, peak learning rate 1.5e-5), a new head,
every non-supported label one target. Its dev curve (AUROC of p_supported per corpus source,
the training's own dev sets) is printed beside the shipped model's last stage. The model is
written under ``--output-dir`` (not shipped; a binary head cannot say "contradicted").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from experts.training import specs
from experts.training.train_run import train_and_ship
from verdictflow.config import REPO_ROOT

NAME = "generalist_binary"


def binary_spec() -> specs.TrainingSpec:
    """The generalist's spec with two labels and one stage, from the shipped weights."""
    shipped = specs.EXPERT_SPECS["generalist"]
    last = shipped.phases[-1]
    return specs.TrainingSpec(
        NAME,
        (),
        specs.BINARY_LABELS,
        (),
        description="Binary-head comparison (benchmarks.head_choice); not shipped.",
        frozen_layers=0,
        corpus=True,
        mix_temperature=shipped.mix_temperature,
        phases=(last,),
        max_length=shipped.max_length,
        serve_max_length=shipped.serve_max_length,
        label_smoothing=shipped.label_smoothing,
        eval_every=shipped.eval_every,
        patience=shipped.patience,
        warm_start_from="models/generalist",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=Path(".verdictflow/head_choice"))
    args = parser.parse_args()
    specs.EXPERT_SPECS[NAME] = binary_spec()
    summary = train_and_ship(NAME, output_dir=args.output_dir)
    shipped = json.loads((REPO_ROOT / "models" / "generalist" / "stages.json").read_text())
    last_phase = max(h.get("phase", 1) for h in shipped["history"])
    three_way = [h for h in shipped["history"] if h.get("phase", 1) == last_phase]
    print("3-way head, the shipped last stage:")
    for h in three_way:
        print(f"  step {h['step']}: dev mean {h['dev']['mean']:.4f}")
    print("binary head, the same stage from the shipped encoder:")
    for h in summary["history"]:
        print(f"  step {h['step']}: dev mean {h['dev']['mean']:.4f}")


if __name__ == "__main__":
    main()
