"""What a domain expert trained on a corpus adds, on items checked against that corpus.

    python -m benchmarks.domain_experts [--minutes 15] [--docs 120] [--limit 150]
        [--parts demo,halueval]

For each corpus, in a fresh home: ingest it, verify its labelled items against it (no
context: the corpus is searched) with the shipped experts, train a domain expert on the
corpus alone (never on the items), verify the same items again. The pipeline's own stages
run in this process (claims, evidence, gate, experts, combiner, decision), without storage.

- ``demo``: the demo corpus and its 43 items; also which swapped-name and invented-feature
  items each setting catches (verdict not supported).
- ``halueval``: a corpus the generalist never trained on: the documents of the first
  ``--docs`` groups of HaluEval summarisation's *test* split, and their own labelled
  summaries as items. The general test splits (HaluEval QA, dialogue, summarisation with
  their own context, ``--limit`` rows each) are verified with and without the domain expert
  registered: it must not cost the general case more than 0.01 AUROC.

Writes ``benchmarks/results/domain_experts.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
GENERAL = ("halueval_qa", "halueval_dialogue", "halueval_summarization")


def use_home(home: Path) -> None:
    """Point the settings at a fresh home (its own LanceDB, models and domain registry)."""
    from verdictflow.config import reset_settings

    os.environ["VERDICTFLOW_HOME"] = str(home)
    reset_settings()


def verify_rows(rows: list[dict]) -> dict:
    """The pipeline's stages on labelled rows: metrics and each item's verdict."""
    from experts.evaluation.labelled import item_arrays, score
    from experts.mixture.scoring import Scorer
    from tasks import stages
    from verdictflow.inputs import coerce_items
    from verdictflow.verdicts import group_items

    items, errors = coerce_items(
        [{k: r[k] for k in ("id", "text", "context") if r.get(k)} for r in rows]
    )
    assert not errors, errors
    started = time.perf_counter()
    claims = stages.claims_of(items)
    evidence = stages.evidence_for(claims)
    scoring = Scorer().score(claims, evidence)
    verdicts = group_items(stages.decide(claims, evidence, scoring.scores))
    seconds = time.perf_counter() - started
    _, gold, probs, abstained = item_arrays(rows, verdicts)
    metrics = score(gold, probs, abstained)
    labels = {v.item_id: v.label.value for v in verdicts}
    accuracy = np.mean([same_label(labels[r["id"]], r["label"]) for r in rows])
    return {
        "n": len(rows),
        "accuracy": round(float(accuracy), 4),
        "balanced_accuracy": metrics.get("balanced_accuracy"),
        "auroc": metrics.get("auroc"),
        "claims_per_s": round(len(claims) / seconds, 2),
        "routed": scoring.report["routed"],
        "verdicts": labels,
    }


def same_label(verdict: str, gold: str) -> bool:
    """The verdict is the gold label; for two-class gold ("not_supported"), any verdict but
    supported is right."""
    return verdict != "supported" if gold == "not_supported" else verdict == gold


def caught(result: dict, ids: list[str]) -> dict[str, bool]:
    """Which of ``ids`` the run did not call supported."""
    return {i: result["verdicts"][i] != "supported" for i in ids}


def train(name: str, corpus: list[str], minutes: float) -> dict:
    from experts.training.domain import train_domain_expert
    from experts.training.domain_data import corpus_from_paths

    docs = corpus_from_paths(corpus)
    summary = train_domain_expert(name, docs, minutes, {"paths": corpus}, log=print)
    return {k: v for k, v in summary.items() if k != "history"}


def demo_part(minutes: float) -> dict:
    """The demo corpus and items, without and with a domain expert trained on the corpus."""
    from experts.evaluation.labelled import DEMO_CORPUS, DEMO_ITEMS
    from retrieval.ingest import ingest_paths

    rows = [json.loads(line) for line in DEMO_ITEMS.read_text().splitlines() if line.strip()]
    watch = [r["id"] for r in rows if "swapped" in r["id"] or "invented" in r["id"]]
    ingest_paths([str(DEMO_CORPUS)])
    before = verify_rows(rows)
    expert = train("demo-shop", [str(DEMO_CORPUS)], minutes)
    after = verify_rows(rows)
    return {
        "without": before,
        "with": after,
        "expert": expert,
        "watched": {"without": caught(before, watch), "with": caught(after, watch)},
    }


def halueval_part(minutes: float, n_docs: int, limit: int, work: Path) -> dict:
    """Held-out HaluEval summarisation documents as the corpus, their summaries as items."""
    from experts.decision.calibration_data import load_labelled
    from experts.training import data as vdata
    from retrieval.ingest import ingest_paths

    test = vdata.splits(vdata.load_halueval("summarization"), "group")["test"]
    groups = sorted(test["group"].unique())[:n_docs]
    test = test[test["group"].isin(groups)]
    corpus = work / "corpus.jsonl"
    docs = test.drop_duplicates("group")
    corpus.write_text(
        "".join(
            json.dumps({"id": g, "text": t}) + "\n"
            for g, t in zip(docs["group"], docs["evidence"], strict=True)
        )
    )
    rows = [
        {"id": f"s{i}", "text": claim, "label": label}
        for i, (claim, label) in enumerate(zip(test["claim"], test["label"], strict=True))
    ]
    ingest_paths([str(corpus)])
    general = {ds: load_labelled(ds, limit=limit)[1] for ds in GENERAL}
    before = verify_rows(rows)
    general_before = {ds: verify_rows(r) for ds, r in general.items()}
    expert = train("news-corpus", [str(corpus)], minutes)
    after = verify_rows(rows)
    general_after = {ds: verify_rows(r) for ds, r in general.items()}
    return {
        "corpus_documents": len(docs),
        "without": before,
        "with": after,
        "expert": expert,
        "general": {
            ds: {
                "without": general_before[ds]["auroc"],
                "with": general_after[ds]["auroc"],
                "routed_to_domain": general_after[ds]["routed"].get("news-corpus", 0),
            }
            for ds in GENERAL
        },
    }


def markdown(result: dict) -> str:
    lines = [
        "# Domain experts: trained on the corpus, measured on the items checked against it",
        "",
    ]
    for part, r in result["parts"].items():
        e = r["expert"]
        lines += [
            f"## {part}",
            "",
            f"Domain expert: pairs (train / dev / test) {e['pairs']['train']} / "
            f"{e['pairs']['dev']} / {e['pairs']['test']} from {e['documents']['train']} / "
            f"{e['documents']['dev']} / {e['documents']['test']} documents; {e['steps']} steps "
            f"in {e['train_seconds']} s ({e['train_pairs_per_s']} pairs/s); on its test "
            f"documents AUROC {e['test']['domain_auroc']} (the generalist "
            f"{e['test']['base_auroc']}); pairs per transform {e['transforms']}.",
            "",
            "| items | accuracy | balanced accuracy | AUROC | claims/s |",
            "|---|---|---|---|---|",
        ]
        for name in ("without", "with"):
            m = r[name]
            lines.append(
                f"| {name} the domain expert | {m['accuracy']} | {m['balanced_accuracy']} | "
                f"{m['auroc']} | {m['claims_per_s']} |"
            )
        if "watched" in r:
            lines += [
                "",
                "| swapped-name / invented-feature item | caught without | with |",
                "|---|---|---|",
            ]
            for item, hit in r["watched"]["without"].items():
                lines.append(f"| {item} | {hit} | {r['watched']['with'][item]} |")
        if "general" in r:
            lines += [
                "",
                "| general test split (own context) | AUROC without | with | pairs routed to it |",
                "|---|---|---|---|",
            ]
            for ds, g in r["general"].items():
                lines.append(f"| {ds} | {g['without']} | {g['with']} | {g['routed_to_domain']} |")
        lines.append("")
    lines.append(f"Command: `{result['command']}`; {result['finished']}.")
    return "\n".join(lines) + "\n"


def rewrite(path: str) -> None:
    """The Markdown again from a saved JSON result (``--rewrite``)."""
    result = json.loads(Path(path + ".json").read_text())
    Path(path + ".md").write_text(markdown(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--docs", type=int, default=120)
    parser.add_argument("--limit", type=int, default=150)
    parser.add_argument("--parts", default="demo,halueval")
    parser.add_argument("--out", default=str(RESULTS / "domain_experts"))
    parser.add_argument("--rewrite", action="store_true", help="Only rewrite the Markdown.")
    args = parser.parse_args()
    if args.rewrite:
        rewrite(args.out)
        return
    result = {
        "command": "python -m benchmarks.domain_experts "
        + " ".join(f"--{k} {v}" for k, v in vars(args).items() if k != "out"),
        "parts": {},
    }
    for part in args.parts.split(","):
        with tempfile.TemporaryDirectory(prefix=f"vf-domain-{part}-") as tmp:
            use_home(Path(tmp) / "home")
            if part == "demo":
                result["parts"][part] = demo_part(args.minutes)
            else:
                result["parts"][part] = halueval_part(
                    args.minutes, args.docs, args.limit, Path(tmp)
                )
    result["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    Path(args.out + ".json").write_text(json.dumps(result, indent=1) + "\n")
    Path(args.out + ".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
