"""Long sources end to end (issue 14): the experts pairwise vs the pipeline's windows.

    python -m benchmarks.long_sources [--limit 150] [-d halueval_summarization ...]
        [--settings window=96,per-expert] [--json out.json] [--markdown out.md]

For each data set (labelled items with their own context, the evaluation split):

- pairwise: each cross-encoder on the item's whole text vs its whole context, as it was
  trained (truncated at its own max length);
- claims, one expert alone: the claim rule without gate or combiner (each claim read in the
  default windows, in windows of the expert's own length; best window, weakest claim);
- end to end, per setting: the pipeline's own stages in this process, without storage
  (claims -> evidence windows -> gate + experts -> decide; the best window decides a claim,
  the weakest claim the item, as in ``verdictflow evaluate``).

A setting is a set of ``VERDICTFLOW_`` overrides (``SETTINGS``): the verification window
size (one for all experts, or each cross-encoder its own) and routing variants.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

DATASETS = ("halueval_summarization", "halueval_dialogue", "halueval_qa")
W = "VERDICTFLOW_EXPERTS__"
SETTINGS: dict[str, dict[str, str]] = {  # w: evidence window tokens; long: long_source_chars
    "w96 long2000 (old windows+routing)": {
        f"{W}WINDOW_TOKENS": "96",
        f"{W}LONG_SOURCE_CHARS": "2000",
    },
    "w160 long2000": {f"{W}WINDOW_TOKENS": "160", f"{W}LONG_SOURCE_CHARS": "2000"},
    "w96 long500": {f"{W}WINDOW_TOKENS": "96", f"{W}LONG_SOURCE_CHARS": "500"},
    "w160 long500": {f"{W}WINDOW_TOKENS": "160", f"{W}LONG_SOURCE_CHARS": "500"},
    "w224 long500": {f"{W}WINDOW_TOKENS": "224", f"{W}LONG_SOURCE_CHARS": "500"},
    "w160 long500 no-stacker": {
        f"{W}WINDOW_TOKENS": "160",
        f"{W}LONG_SOURCE_CHARS": "500",
        f"{W}STACKING": "false",
    },
    "w160 long0": {f"{W}WINDOW_TOKENS": "160", f"{W}LONG_SOURCE_CHARS": "0"},
    "default": {},
}
KNOWN = sorted({k for s in SETTINGS.values() for k in s})


def _apply(overrides: dict[str, str]) -> None:
    from verdictflow.config import reset_settings

    for key in KNOWN:
        os.environ.pop(key, None)
    os.environ.update(overrides)
    reset_settings()


def _rows(dataset: str, limit: int) -> tuple[list[dict], np.ndarray]:
    from experts.evaluation.labelled import load_eval_rows

    rows, _, _ = load_eval_rows(dataset, limit)
    return rows, np.array([r["label"] == "supported" for r in rows])


def pairwise(rows: list[dict], positive: np.ndarray) -> dict[str, float]:
    """AUROC of each cross-encoder's p_supported on (whole text, whole context)."""
    from experts.evaluation.metrics import auroc
    from experts.registry import cached_expert, load_registry, registry_path

    registry = str(registry_path())
    pairs = [(r["text"], r.get("context") or "") for r in rows]
    out = {}
    for spec in load_registry():
        if spec.kind == "cross_encoder":
            p = cached_expert(spec.name, registry).predict(pairs)[:, 0]
            out[spec.name] = round(float(auroc(positive, p)), 4)
    return out


def claim_rule(rows: list[dict], positive: np.ndarray) -> dict[str, float]:
    """AUROC of each cross-encoder alone under the pipeline's claim rule: its p_supported on
    the claims, each read in the default verification windows (in windows of its own length),
    the best window per claim, the weakest claim per item (no gate, no combiner)."""
    from experts.evaluation.labelled import rows_to_items
    from experts.evaluation.metrics import auroc
    from experts.mixture.ensemble import best_chunk
    from experts.mixture.scoring import best_reading, read_in_windows
    from experts.registry import cached_expert, load_registry, reading_window, registry_path
    from tasks import stages

    items, _ = stages.read_items(None, rows_to_items(rows))
    claims = stages.claims_of(items)
    evidence = stages.evidence_for(claims)
    pairs = [(c.text, e.text) for c in claims for e in evidence[c.claim_id]]
    owner = np.array([i for i, c in enumerate(claims) for _ in evidence[c.claim_id]], dtype=int)
    out = {}
    for spec in load_registry():
        if spec.kind != "cross_encoder":
            continue
        read, rows_of = read_in_windows(pairs, np.arange(len(pairs)), reading_window(spec))
        probs = cached_expert(spec.name, str(registry_path())).predict(read)
        probs = best_reading(probs, rows_of, len(pairs))
        weakest = {item.id: 1.0 for item in items}
        for i, claim in enumerate(claims):
            mine = probs[owner == i]
            p = mine[best_chunk(mine), 0] if len(mine) else 0.0
            weakest[claim.item_id] = min(weakest[claim.item_id], p)
        out[spec.name] = round(float(auroc(positive, [weakest[r["id"]] for r in rows])), 4)
    return out


def end_to_end(rows: list[dict]) -> dict:
    """AUROC of the pipeline's verdicts on the rows, the pairs scored and who scored them."""
    from benchmarks.measure import decide_in_process
    from experts.evaluation.labelled import item_arrays, rows_to_items
    from experts.evaluation.metrics import auroc
    from tasks import stages
    from verdictflow.verdicts import group_items

    items, _ = stages.read_items(None, rows_to_items(rows))
    claims = stages.claims_of(items)
    started = time.perf_counter()
    decided, report = decide_in_process(claims)
    verdicts = group_items(decided)
    seconds = time.perf_counter() - started
    _, gold, probs, _ = item_arrays(rows, verdicts)
    return {
        "auroc": round(float(auroc(gold == 0, probs[:, 0])), 4),
        "n": len(gold),
        "claims": len(claims),
        "combiner": report["combiner"],
        "routed": {k: v for k, v in report["routed"].items() if v},
        "seconds": round(seconds, 1),
    }


def markdown(out: dict) -> str:
    """The tables: pairwise AUROC per expert, end-to-end AUROC per setting."""
    sets = [d for d in out["datasets"]]
    experts = sorted({e for d in sets for e in out["datasets"][d]["pairwise"]})
    lines = [
        "# Long sources: experts pairwise vs end to end",
        "",
        f"`python -m benchmarks.long_sources --limit {out['limit']}`: AUROC of p_supported on "
        "the same rows of each evaluation split. Pairwise: the item's whole text vs its whole "
        "context, as the experts were trained. Claims, one expert alone: the same expert on "
        "the claims in the default windows (best window per claim, weakest claim per item). "
        "End to end: claims, verification windows, gate, experts, combiner, decision. "
        "Settings: w = evidence window tokens (each cross-encoder reads it in windows of its "
        "own max length less the claim's 32), long = experts.long_source_chars; default: "
        "w160 (nli-long's 192 - 32), long 500.",
        "",
        "| | " + " | ".join(sets) + " |",
        "|---" * (len(sets) + 1) + "|",
    ]
    for e in experts:
        cells = [str(out["datasets"][d]["pairwise"].get(e, "–")) for d in sets]
        lines.append(f"| pairwise {e} | " + " | ".join(cells) + " |")
    for e in experts:
        cells = [str(out["datasets"][d]["claim_rule"].get(e, "–")) for d in sets]
        lines.append(f"| claims, {e} alone | " + " | ".join(cells) + " |")
    for name in out["settings"]:
        cells = [str(out["datasets"][d]["end_to_end"][name]["auroc"]) for d in sets]
        lines.append(f"| end to end, {name} | " + " | ".join(cells) + " |")
    lines += ["", "Routed pairs per expert (end to end):", ""]
    for d in sets:
        for name, r in out["datasets"][d]["end_to_end"].items():
            lines.append(f"- {d}, {name}: {r['routed']} ({r['combiner']}, {r['seconds']} s)")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-d", "--dataset", action="append", default=None)
    parser.add_argument("--limit", type=int, default=150)
    parser.add_argument("--settings", default=",".join(SETTINGS))
    results = Path(__file__).parent / "results"
    parser.add_argument("--json", type=Path, default=results / "long_sources.json")
    parser.add_argument("--markdown", type=Path, default=results / "long_sources.md")
    args = parser.parse_args()
    os.environ.setdefault("VERDICTFLOW_QUALITY__USE_SHIPPED_CALIBRATION", "true")
    names = args.settings.split(",")
    out: dict = {"limit": args.limit, "settings": {n: SETTINGS[n] for n in names}, "datasets": {}}
    for dataset in args.dataset or DATASETS:
        rows, positive = _rows(dataset, args.limit)
        _apply({})
        part = out["datasets"][dataset] = {
            "pairwise": pairwise(rows, positive),
            "claim_rule": claim_rule(rows, positive),
            "end_to_end": {},
        }
        print(dataset, "pairwise", json.dumps(part["pairwise"]), flush=True)
        print(dataset, "claim rule", json.dumps(part["claim_rule"]), flush=True)
        for name in names:
            _apply(SETTINGS[name])
            part["end_to_end"][name] = end_to_end(rows)
            print(dataset, name, json.dumps(part["end_to_end"][name]), flush=True)
    _apply({})
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    args.markdown.write_text(markdown(out))
    print(markdown(out))


if __name__ == "__main__":
    main()
