"""Which mixture to ship, and how an item is decided from its claims (issue 26).

    python -m benchmarks.mixture_choice [--limit 80] [--corpus-limit 60] [--split dev]
        [--configs mixture,generalist] [--json out.json] [--markdown out.md]

Every labelled dev item goes through the pipeline's own stages in this process (claims ->
evidence windows -> gate + experts -> combine -> decide), once per configuration of the
experts (``CONFIGS``: a registry and settings). Reported per data set and configuration:

- AUROC of the item's p_supported under each item rule of ``verdictflow.verdicts.ITEM_RULES``
  (``weakest``: the lowest claim p_supported; ``mean``; ``product``: all claims supported);
- for the demo (checked against the demo corpus): items whose verdict matches the gold label.

Data: the dev splits of HaluEval QA / dialogue / summarisation, the demo items, and the dev
split of a few verification corpus sources (each row one item: the claim with its premise as
context). Never the reserved evaluation sets.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

HALUEVAL = ("halueval_qa", "halueval_dialogue", "halueval_summarization")
CORPUS = (
    "taxinli10k",
    "cad_snli",
    "fever_nli_dev",
    "nlids_scitail",
    "climate_fever",
    "healthver_devtest",
    "nlids_rte",
    "sufficient_facts",
)
GENERALIST_ALONE = """experts:
  - name: nli-general
    kind: cross_encoder
    weights: models/generalist
    domains: [general]
    prior: 3.0
  - name: alignment
    kind: alignment
    domains: [general]
    routed: false
    prior: 1.0
"""
GENERALIST_NUMBERS = (
    GENERALIST_ALONE
    + """  - name: numbers
    kind: numbers
    domains: [numbers, dates, quantities]
    patterns: ['(?<![A-Za-z\\d])\\d']
    prior: 1.0
"""
)
GENERALIST_RULES = (
    GENERALIST_NUMBERS
    + """  - name: entities
    kind: entities
    domains: [entities]
    patterns: ['(?<![.!?]\\s)(?<!^)\\b[A-Z][a-zA-Z]+|\\b[A-Z]{2,}\\b']
    prior: 0.5
  - name: negation
    kind: negation
    domains: [negation]
    keywords: [not, "n't", never, "no", none, nobody, nothing, neither, nor, without, cannot]
    prior: 0.5
"""
)
# name -> (registry text or None for the shipped registry, VERDICTFLOW_ overrides)
CONFIGS: dict[str, tuple[str | None, dict[str, str]]] = {
    "mixture": (None, {}),
    "mixture-no-stacker": (None, {"VERDICTFLOW_EXPERTS__STACKING": "false"}),
    "generalist": (GENERALIST_ALONE, {}),
    "generalist+numbers": (GENERALIST_NUMBERS, {}),
    "generalist+rules": (GENERALIST_RULES, {}),
    "mixture-best-support": (None, {"VERDICTFLOW_EXPERTS__CHUNK_RULE": "best_support"}),
    "context-3w": (None, {"VERDICTFLOW_RETRIEVAL__CONTEXT_WINDOWS": "3"}),
    "context-2w": (None, {"VERDICTFLOW_RETRIEVAL__CONTEXT_WINDOWS": "2"}),
}
KNOWN = (
    "VERDICTFLOW_EXPERTS__STACKING",
    "VERDICTFLOW_EXPERTS__REGISTRY",
    "VERDICTFLOW_EXPERTS__CHUNK_RULE",
    "VERDICTFLOW_RETRIEVAL__CONTEXT_WINDOWS",
)
# With --stacker FILE: the shipped registry under a combiner refitted for it (train-combiner).
REFIT = "mixture-refit"


def _apply(registry: str | None, overrides: dict[str, str], folder: Path) -> None:
    from verdictflow.config import REPO_ROOT, reset_settings

    for key in (*KNOWN, "VERDICTFLOW_EXPERTS__STACKER_PATH"):
        os.environ.pop(key, None)
    if registry is not None:
        path = folder / f"registry-{abs(hash(registry))}.yaml"
        path.write_text(registry.replace("models/generalist", str(REPO_ROOT / "models/generalist")))
        os.environ["VERDICTFLOW_EXPERTS__REGISTRY"] = str(path)
    os.environ.update(overrides)
    reset_settings()


def _rows(dataset: str, limit: int) -> list[dict]:
    from experts.evaluation.labelled import load_eval_rows

    rows, _, _ = load_eval_rows(dataset, limit)
    return rows


def run_items(rows: list[dict]) -> dict:
    """The pipeline's stages on ``rows`` (no storage): item p_supported under each rule."""
    from benchmarks.measure import decide_in_process
    from experts.evaluation.labelled import rows_to_items
    from experts.evaluation.metrics import auroc
    from tasks import stages
    from verdictflow.contracts import label_index
    from verdictflow.verdicts import ITEM_RULES, group_items, item_p_supported

    items, _ = stages.read_items(None, rows_to_items(rows))
    claims = stages.claims_of(items)
    started = time.perf_counter()
    decided, report = decide_in_process(claims)
    verdicts = {v.item_id: v for v in group_items(decided)}
    seconds = time.perf_counter() - started
    kept = [r for r in rows if str(r["id"]) in verdicts]
    gold = np.array([label_index(r["label"]) for r in kept])
    per_item = [[c.p_supported for c in verdicts[str(r["id"])].claims] for r in kept]
    labels = [verdicts[str(r["id"])].label.value for r in kept]
    right = sum(
        (lab == "supported") == (g == 0) and (g != 1 or lab in ("contradicted", "unsupported"))
        for lab, g in zip(labels, gold, strict=True)
    )
    return {
        "n": len(kept),
        "claims": len(claims),
        **{
            f"auroc_{rule}": round(
                float(auroc(gold == 0, np.array([item_p_supported(p, rule) for p in per_item]))), 4
            )
            for rule in ITEM_RULES
        },
        "right": int(right),
        "routed": {k: v for k, v in report["routed"].items() if v},
        "combiner": report["combiner"],
        "seconds": round(seconds, 1),
    }


def markdown(out: dict) -> str:
    """One table per item rule: AUROC per data set and configuration, with the mean."""
    from verdictflow.verdicts import ITEM_RULES

    sets = list(out["datasets"])
    lines = [
        "# Which mixture to ship, and the item rule (issue 26)",
        "",
        f"`{out['command']}`: AUROC of the item's p_supported on the {out['split']} split, "
        "end to end in this process (claims, evidence windows, gate, experts, combiner, "
        "decision). Demo: items checked against the demo corpus; `right` counts verdicts that "
        "match the gold label (a false item counts as caught when contradicted or "
        "unsupported).",
        "",
    ]
    for rule in ITEM_RULES:
        lines += [
            f"## Item rule: {rule}",
            "",
            "| config | " + " | ".join(sets) + " | mean |",
            "|---" * (len(sets) + 2) + "|",
        ]
        for name in out["configs"]:
            cells = [out["datasets"][d][name][f"auroc_{rule}"] for d in sets]
            lines.append(
                f"| {name} | " + " | ".join(str(c) for c in cells) + f" | {np.mean(cells):.4f} |"
            )
        lines.append("")
    if "demo" in out["datasets"]:
        lines += ["Demo items right (of " + str(out["datasets"]["demo"][out["configs"][0]]["n"])]
        lines[-1] += "): " + ", ".join(
            f"{name} {out['datasets']['demo'][name]['right']}" for name in out["configs"]
        )
    lines += ["", "Seconds per data set and configuration (a busy machine):", ""]
    for d in sets:
        cells = ", ".join(f"{n} {out['datasets'][d][n]['seconds']}" for n in out["configs"])
        lines.append(f"- {d}: {cells}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=80, help="HaluEval items per set.")
    parser.add_argument("--corpus-limit", type=int, default=60, help="Items per corpus source.")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--no-demo", action="store_true")
    parser.add_argument("--stacker", type=Path, help=f"A refitted combiner: adds {REFIT!r}.")
    results = Path(__file__).parent / "results"
    parser.add_argument("--json", type=Path, default=results / "mixture_choice.json")
    parser.add_argument("--markdown", type=Path, default=results / "mixture_choice.md")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mixture-choice-"))
    os.environ.setdefault("VERDICTFLOW_HOME", str(folder / "home"))
    os.environ["VERDICTFLOW_EVALUATION__SPLIT"] = args.split
    os.environ.setdefault("VERDICTFLOW_QUALITY__USE_SHIPPED_CALIBRATION", "true")
    names = args.configs.split(",")
    if args.stacker:
        CONFIGS[REFIT] = (None, {"VERDICTFLOW_EXPERTS__STACKER_PATH": str(args.stacker.resolve())})
        names.insert(0, REFIT)
    sets: dict[str, list[dict]] = {}
    for d in HALUEVAL:
        sets[d] = _rows(d, args.limit)
    for d in CORPUS:
        sets[d] = _rows(d, args.corpus_limit)
    if not args.no_demo:
        from experts.evaluation.labelled import DEMO_CORPUS
        from flows.ingest import ingest_documents

        ingest_documents([str(DEMO_CORPUS)])
        sets["demo"] = _rows("demo", 100)
    command = "python -m benchmarks.mixture_choice " + " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in (("limit", args.limit), ("corpus_limit", args.corpus_limit))
    )
    out: dict = {"command": command, "split": args.split, "configs": names, "datasets": {}}
    for d, rows in sets.items():
        out["datasets"][d] = {}
        for name in names:
            registry, overrides = CONFIGS[name]
            _apply(registry, overrides, folder)
            out["datasets"][d][name] = run_items(rows)
            print(d, name, json.dumps(out["datasets"][d][name]), flush=True)
    _apply(None, {}, folder)
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    args.markdown.write_text(markdown(out))
    print(markdown(out))


if __name__ == "__main__":
    main()
