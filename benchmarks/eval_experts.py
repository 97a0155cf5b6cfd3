"""Reproduce the shipped experts' figures on the held-out test splits.

    python -m benchmarks.eval_experts [--models models] [--pairs 1000] [--json out.json]

For each expert in ``models/`` (generalist, qa, long_sources): metrics on the test split of
each of its data sets (the same seeded sample of ``settings.training.eval_pairs`` pairs the
model cards report), CPU pairs/s in the shipped format, and the claim-length-only baseline.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from experts import data as vdata
from experts.train_run import evaluate, frames_for, pairs_per_second, sample_eval
from experts.training import EXPERT_SPECS, load_expert
from verdictflow.config import get_settings


def run(models: Path, pairs: int | None = None) -> dict:
    """Figures per expert and data set, plus the length-only baseline per data set."""
    settings = get_settings()
    pairs = pairs or settings.training.eval_pairs
    seed = settings.training.seed
    loaded = vdata.load_datasets(vdata.DATASETS)
    parts = {ds: vdata.splits(df, col) for ds, (df, col) in loaded.items()}
    out: dict = {"experts": {}, "length_only_auroc": {}}
    for ds in vdata.DATASETS:
        test = sample_eval(parts[ds]["test"], pairs, seed)
        out["length_only_auroc"][ds] = round(vdata.length_auroc(test), 4)
    for name, spec in EXPERT_SPECS.items():
        path = models / name
        if not (path / "verdictflow.json").exists():
            continue
        model, tokenizer, meta = load_expert(path)
        frames = frames_for(spec, parts)["test"]
        test = pd.concat(
            [sample_eval(frames[frames.dataset == ds], pairs, seed) for ds in spec.datasets],
            ignore_index=True,
        )
        figures = evaluate(model, tokenizer, spec, test, meta["max_length"])
        speed = pairs_per_second(model, tokenizer, test, meta["max_length"])
        size_mb = round((path / "model.safetensors").stat().st_size / 2**20, 1)
        out["experts"][name] = {"test": figures, "cpu_pairs_per_s": speed, "size_mb": size_mb}
    return out


def markdown(result: dict) -> str:
    """The figures as a markdown table."""
    lines = [
        "| expert | data set | pairs | AUROC | balanced acc | 3-class macro-F1 | length-only AUROC "
        "| CPU pairs/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["experts"].items():
        for ds, m in r["test"].items():
            lines.append(
                f"| {name} | {ds} | {m['pairs']} | {m.get('auroc', '-')} | {m['balanced_acc']} "
                f"| {m.get('macro_f1_3class', '-')} | {m['length_only_auroc']} "
                f"| {r['cpu_pairs_per_s']} |"
            )
    lines += ["", "Claim-length-only AUROC (longer = not supported), same test pairs:", ""]
    lines += [f"- {ds}: {v}" for ds, v in result["length_only_auroc"].items()]
    return "\n".join(lines)


def update_cards(models: Path, result: dict) -> None:
    """Replace the "Reproduced figures" section of each expert's model card with ``result``."""
    marker = "## Reproduced figures (benchmarks/eval_experts.py)"
    for name, r in result["experts"].items():
        card_path = models / name / "model_card.md"
        card = card_path.read_text().split(marker)[0].rstrip() + "\n\n"
        one = {"experts": {name: r}, "length_only_auroc": {}}
        card_path.write_text(card + marker + "\n\n" + markdown(one).split("\n\nClaim")[0] + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=get_settings().training.output_dir)
    parser.add_argument("--pairs", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--update-cards", action="store_true", help="Write figures into cards.")
    args = parser.parse_args()
    result = run(args.models, args.pairs)
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.update_cards:
        update_cards(args.models, result)


if __name__ == "__main__":
    main()
