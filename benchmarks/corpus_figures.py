"""The shipped generalist on the verification corpus's test splits (issue 26's figures).

    python -m benchmarks.corpus_figures [--model models/generalist] [--limit 1000] [--padded]
        [--split test|dev]

Per source (the test split by premise, or ``--split dev``, at most ``--limit`` rows, seeded):
3-way accuracy on three-way sources, binary accuracy (supported vs the rest at p_supported >=
0.5) and AUROC of p_supported on all, as the expert is served (``CrossEncoderExpert``, its own
max length); ``auroc_overlap_controlled``: the AUROC on the rows where word overlap misleads
(supported claims that share few words with their evidence, the others many:
``experts.training.synthetic.overlap_controlled``), where a model that learned overlap falls.

``--padded``: every premise padded with 1-3 premises of other sources, before or after it,
the label kept (``experts.training.augment.distractor_padded``, up to 500 characters): the
same figures on evidence that, like the pipeline's windows, holds sentences beside the point.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def test_rows(limit: int, padded: bool, split: str = "test") -> dict:
    """Each source's ``split`` (at most ``limit`` rows, seeded), its premises padded with
    other sources' when ``padded``."""
    import pandas as pd

    from experts.training import augment, corpus
    from experts.training.data import splits

    tests = {}
    for name in corpus.source_names():
        test = splits(corpus.read_source(name), "group")[split]
        tests[name] = test.sample(n=min(limit, len(test)), random_state=13)
    if not padded:
        return tests
    both = pd.concat(tests.values(), ignore_index=True)
    both = augment.distractor_padded(both, 1.0, seed=13, max_chars=500).drop(columns="padded")
    return {name: part for name, part in both.groupby("dataset", sort=True)}


def _auroc(y: np.ndarray, scores: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(y, scores)), 4) if 0 < y.sum() < len(y) else None


def figures(
    model_dir: Path, limit: int, padded: bool = False, split: str = "test"
) -> dict[str, dict]:
    """``{source: {rows, acc_3way?, acc_binary, auroc, auroc_overlap_controlled}}`` on each
    source's ``split``."""
    from experts.training.synthetic import overlap_controlled
    from experts.verifiers.cross_encoder import CrossEncoderExpert
    from verdictflow.contracts import LABELS

    expert = CrossEncoderExpert(model_dir, name="generalist", mc_dropout_samples=0)
    out = {}
    for name, test in test_rows(limit, padded, split).items():
        probs = expert.predict(list(zip(test["claim"], test["evidence"], strict=True)))
        y = (test["label"] == "supported").to_numpy()
        hard = overlap_controlled(test.reset_index(drop=True).assign(p=probs[:, 0]))
        row = {
            "rows": len(test),
            "acc_binary": round(float(np.mean((probs[:, 0] >= 0.5) == y)), 4),
            "auroc": _auroc(y, probs[:, 0]),
            "auroc_overlap_controlled": _auroc(
                (hard["label"] == "supported").to_numpy(), hard["p"].to_numpy()
            ),
        }
        if not (test["label"] == "not_supported").any():
            pred = np.asarray(LABELS)[probs.argmax(axis=1)]
            row["acc_3way"] = round(float(np.mean(pred == test["label"].to_numpy())), 4)
        out[name] = row
        print(name, json.dumps(row), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/generalist"))
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--padded", action="store_true", help="premises padded with others'")
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    results = Path(__file__).parent / "results"
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    padded = " --padded" if args.padded else ""
    split = f" --split {args.split}" if args.split != "test" else ""
    sources = figures(args.model, args.limit, args.padded, args.split)
    means = {
        key: round(float(np.mean(vals)), 4)
        for key in ("auroc", "auroc_overlap_controlled", "acc_3way")
        if (vals := [row[key] for row in sources.values() if row.get(key) is not None])
    }
    out = {
        "command": f"python -m benchmarks.corpus_figures --limit {args.limit}{padded}{split}",
        "model": str(args.model),
        "split": args.split,
        "sources": sources,
        "means": means,
    }
    print("means", json.dumps(means))
    suffix = ("_padded" if args.padded else "") + ("" if args.split == "test" else f"_{args.split}")
    args.json = args.json or results / f"corpus_figures{suffix}.json"
    args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
