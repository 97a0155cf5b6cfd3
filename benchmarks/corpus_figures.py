"""The shipped generalist on the verification corpus's test splits (issue 26's figures).

    python -m benchmarks.corpus_figures [--model models/generalist] [--limit 1000] [--padded]

Per source (the test split by premise, at most ``--limit`` rows, seeded): 3-way accuracy on
three-way sources, binary accuracy (supported vs the rest at p_supported >= 0.5) and AUROC of
p_supported on all, as the expert is served (``CrossEncoderExpert``, its own max length).

``--padded``: every premise padded with 1-3 premises of other sources, before or after it,
the label kept (``experts.training.augment.distractor_padded``, up to 500 characters): the
same figures on evidence that, like the pipeline's windows, holds sentences beside the point.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def test_rows(limit: int, padded: bool) -> dict:
    """Each source's test split (at most ``limit`` rows, seeded), its premises padded with
    other sources' when ``padded``."""
    import pandas as pd

    from experts.training import augment, corpus
    from experts.training.data import splits

    tests = {}
    for name in corpus.source_names():
        test = splits(corpus.read_source(name), "group")["test"]
        tests[name] = test.sample(n=min(limit, len(test)), random_state=13)
    if not padded:
        return tests
    both = pd.concat(tests.values(), ignore_index=True)
    both = augment.distractor_padded(both, 1.0, seed=13, max_chars=500).drop(columns="padded")
    return {name: part for name, part in both.groupby("dataset", sort=True)}


def figures(model_dir: Path, limit: int, padded: bool = False) -> dict[str, dict]:
    """``{source: {rows, acc_3way?, acc_binary, auroc}}`` on each source's test split."""
    from sklearn.metrics import roc_auc_score

    from experts.verifiers.cross_encoder import CrossEncoderExpert
    from verdictflow.contracts import LABELS

    expert = CrossEncoderExpert(model_dir, name="generalist", mc_dropout_samples=0)
    out = {}
    for name, test in test_rows(limit, padded).items():
        probs = expert.predict(list(zip(test["claim"], test["evidence"], strict=True)))
        y = (test["label"] == "supported").to_numpy()
        row = {
            "rows": len(test),
            "acc_binary": round(float(np.mean((probs[:, 0] >= 0.5) == y)), 4),
            "auroc": round(float(roc_auc_score(y, probs[:, 0])), 4)
            if 0 < y.sum() < len(y)
            else None,
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
    results = Path(__file__).parent / "results"
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    padded = " --padded" if args.padded else ""
    out = {
        "command": f"python -m benchmarks.corpus_figures --limit {args.limit}{padded}",
        "model": str(args.model),
        "sources": figures(args.model, args.limit, args.padded),
    }
    name = "corpus_figures_padded.json" if args.padded else "corpus_figures.json"
    args.json = args.json or results / name
    args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
