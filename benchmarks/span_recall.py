"""Spans on one-word changes, end to end (issue 26): is the changed word drawn?

    python -m benchmarks.span_recall [--per-transform 60] [--json out.json]

Sentences of verification-corpus premises (dev split, several sources) are changed in one
place by the named transforms of ``experts.training.synthetic`` (a number, a name, an antonym,
a quantifier); each changed sentence is checked against the premise window it came from
through the pipeline's own stages in this process (claims, evidence windows, gate, experts,
decision, spans). Reported per transform: the share of items not called supported, and the
recall of the changed word: the share of items whose verdict's spans cover a changed word (a
supported verdict shows no spans, so a missed change is a missed span too).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

SOURCES = ("fever_nli_dev", "climate_fever", "nlids_qnli", "taxinli10k", "healthver_devtest")
ONE_WORD = ("number_change", "entity_swap", "antonym", "quantifier")


def changed_words(before: str, after: str) -> list[tuple[int, int]]:
    """Character spans in ``after`` of the words that differ from ``before``."""
    a, b = before.split(), after.split()
    starts, pos = [], 0
    for word in b:
        pos = after.index(word, pos)
        starts.append(pos)
        pos += len(word)
    out = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            out += [(starts[j], starts[j] + len(b[j])) for j in range(j1, j2)]
    return out


def cases(per_transform: int, seed: int = 13) -> pd.DataFrame:
    """One-word changes of dev-split premise sentences: evidence, claim, transform, gold."""
    from experts.training import corpus, synthetic

    docs = []
    for name in SOURCES:
        dev = corpus.load_corpus(sources=[name])[name]["dev"]
        premises = dev.drop_duplicates("group")
        docs.append(pd.DataFrame({"doc_id": premises["group"], "text": premises["evidence"]}))
    pairs = synthetic.build_pairs(pd.concat(docs), per_transform, seed, transforms=ONE_WORD)
    rows = []
    for evidence, claim, transform in pairs[["evidence", "claim", "transform"]].itertuples(
        index=False
    ):
        original = max(
            synthetic.split_sentences(evidence),
            key=lambda s: difflib.SequenceMatcher(a=s, b=claim).ratio(),
        )
        gold = changed_words(original, claim)
        if gold:
            rows.append((evidence, claim, transform, gold))
    return pd.DataFrame(rows, columns=["evidence", "claim", "transform", "gold"])


def run(df: pd.DataFrame) -> pd.DataFrame:
    """Each case through the pipeline's stages: its verdict and whether a span covers a
    changed word."""
    from benchmarks.measure import decide_in_process
    from tasks import stages

    records = [
        {"id": f"span-{i}", "text": claim, "context": evidence}
        for i, (evidence, claim) in enumerate(zip(df["evidence"], df["claim"], strict=True))
    ]
    items, _ = stages.read_items(None, records)
    claims = stages.claims_of(items)
    verdicts, _ = decide_in_process(claims)
    by_item: dict[str, list] = {}
    for claim, verdict in zip(claims, verdicts, strict=True):
        by_item.setdefault(claim.item_id, []).append((claim, verdict))
    flagged, hit = [], []
    for i, gold in enumerate(df["gold"]):
        found = by_item.get(f"span-{i}", [])
        flagged.append(any(v.label.value != "supported" for _, v in found))
        covered = False
        for claim, verdict in found:
            for span in verdict.spans:
                s, e = claim.start + span.start, claim.start + span.end
                covered |= any(s < ge and gs < e for gs, ge in gold)
        hit.append(covered)
    return df.assign(not_supported=flagged, span_hit=hit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-transform", type=int, default=60)
    results = Path(__file__).parent / "results"
    parser.add_argument("--json", type=Path, default=results / "span_recall.json")
    args = parser.parse_args()
    os.environ.setdefault("VERDICTFLOW_HOME", tempfile.mkdtemp(prefix="span-recall-"))
    os.environ.setdefault("VERDICTFLOW_QUALITY__USE_SHIPPED_CALIBRATION", "true")
    df = run(cases(args.per_transform))
    out = {
        "command": f"python -m benchmarks.span_recall --per-transform {args.per_transform}",
        "transforms": {},
    }
    for name, part in [("all", df), *df.groupby("transform")]:
        out["transforms"][str(name)] = {
            "cases": len(part),
            "not_supported": round(float(np.mean(part["not_supported"])), 4),
            "changed_word_recall": round(float(np.mean(part["span_hit"])), 4),
        }
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
