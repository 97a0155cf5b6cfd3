"""The shipped generalist on the verification corpus's test splits (issue 26's figures).

    python -m benchmarks.corpus_figures [--model models/generalist] [--limit 1000]

Per source (the test split by premise, at most ``--limit`` rows, seeded): 3-way accuracy on
three-way sources, binary accuracy (supported vs the rest at p_supported >= 0.5) and AUROC of
p_supported on all, as the expert is served (``CrossEncoderExpert``, its own max length).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def figures(model_dir: Path, limit: int) -> dict[str, dict]:
    """``{source: {rows, acc_3way?, acc_binary, auroc}}`` on each source's test split."""
    from sklearn.metrics import roc_auc_score

    from experts.training import corpus
    from experts.training.data import splits
    from experts.verifiers.cross_encoder import CrossEncoderExpert
    from verdictflow.contracts import LABELS

    expert = CrossEncoderExpert(model_dir, name="generalist", mc_dropout_samples=0)
    out = {}
    for name in corpus.source_names():
        test = splits(corpus.read_source(name), "group")["test"]
        test = test.sample(n=min(limit, len(test)), random_state=13)
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
    results = Path(__file__).parent / "results"
    parser.add_argument("--json", type=Path, default=results / "corpus_figures.json")
    args = parser.parse_args()
    out = {
        "command": f"python -m benchmarks.corpus_figures --limit {args.limit}",
        "sources": figures(args.model, args.limit),
    }
    args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
