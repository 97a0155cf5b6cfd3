"""What fewer pairs per claim save and cost: windows kept per claim x experts per pair.

    python -m benchmarks.pairs_saved [-d halueval_dialogue -d halueval_summarization]
        [--limit 80] [--windows 5,2,1] [--experts 2,all] [--json out.json]

For each data set (labelled items with their own context, the evaluation split) and each
setting, the pipeline's own stages run in this process without storage: claims, evidence (the
top ``windows`` windows of the context, ranked against the claim), the gate's top ``experts``
experts, the decision. Reported: pairs scored, scoring seconds, and the item-level AUROC of
p_supported (the weakest claim decides, as in a run).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def one(items, labels: np.ndarray, windows: int, experts: int | None) -> dict:
    """Pairs, seconds and AUROC of one setting on one data set's items."""
    from experts.evaluation.metrics import auroc
    from experts.mixture.scoring import Scorer
    from experts.registry import load_registry
    from tasks import stages
    from verdictflow.verdicts import group_items

    claims = stages.claims_of(items)
    evidence = stages.evidence_for(claims, k=windows)
    started = time.perf_counter()
    scoring = Scorer(top_k=experts or len(load_registry())).score(claims, evidence)
    seconds = time.perf_counter() - started
    verdicts = {v.item_id: v for v in group_items(stages.decide(claims, evidence, scoring.scores))}
    p = np.array([verdicts[i.id].p_supported for i in items])
    return {
        "pairs": int(sum(scoring.report["routed"].values())),
        "scoring_s": round(seconds, 1),
        "auroc": round(float(auroc(labels, p)), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-d", "--dataset", action="append", default=None)
    parser.add_argument("--limit", type=int, default=80)
    parser.add_argument("--windows", default="5,2,1")
    parser.add_argument("--experts", default="2,all")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("VERDICTFLOW_QUALITY__USE_SHIPPED_CALIBRATION", "true")
    from experts.evaluation.labelled import load_eval_rows, rows_to_items
    from tasks import stages

    out: dict = {"limit": args.limit}
    for dataset in args.dataset or ["halueval_dialogue", "halueval_summarization"]:
        rows, _, _ = load_eval_rows(dataset, args.limit)
        items, _ = stages.read_items(None, rows_to_items(rows))
        gold = {r["id"]: r["label"] for r in rows}
        labels = np.array([gold[i.id] == "supported" for i in items])
        out[dataset] = {}
        for experts in args.experts.split(","):
            for windows in (int(w) for w in args.windows.split(",")):
                key = f"windows={windows} experts={experts}"
                k = None if experts == "all" else int(experts)
                out[dataset][key] = one(items, labels, windows, k)
                print(dataset, key, json.dumps(out[dataset][key]), flush=True)
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
