"""Which words are unsupported (issue 19): span quality and the alignment expert's figures.

    nice -n 10 .venv/bin/python -m benchmarks.spans [--fit] [--cases 600] [--pairs 1000]
        [--mixture 300] [--json benchmarks/results/spans.json]

1. Span quality. Two span sets with known gold words: VitaminC claims on one evidence that
   differ in a few words, one supported and one refuted (the refuted claim's differing words
   are its gold span, the supported claim has none); and the named transforms of
   ``experts.training.synthetic`` over news and SQuAD-shifts passages (the words a transform
   changed or added are gold; identities and compressions have none). Token-level
   precision, recall and F1 of the spans, over every word and over content words, beside the
   word-overlap baseline (every word the evidence lacks).
2. The alignment expert alone as a verifier: AUROC of p_supported on dev and test pairs beside
   the MiniLM cosine of claim and evidence; ECE before and after a temperature fitted on dev
   (as ``verdictflow calibrate`` fits one per expert); ms per pair on this CPU.
3. The gated mixture with and without it (``--mixture``): every expert scores the same test
   pairs; the prior gate routes them with and without the alignment expert; the combiner is
   fitted on dev pairs for each set of experts (the shipped one fits only the shipped set).
4. Demo: for each demo item whose only change is one value or one name, whether the spans of
   its verdict (the real pipeline, over the ingested demo corpus) cover the changed words.

Tuning uses only train and dev (``--fit`` prints the threshold and logistic it picks); the
figures are on test. Idf weights: the train split's evidence texts (the corpus stand-in).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo"
# Demo items whose only change against the corpus is one value or one name: the changed words.
DEMO_CHANGES = {
    "aurora-battery-wrong": "45",
    "aurora-weight-wrong": "310",
    "aurora-price-wrong": "399",
    "fjell-battery-wrong": "30",
    "polar-launch-wrong": "2020",
    "company-ceo-swapped": "Marcus Weber",
    "company-countries-wrong": "25",
    "returns-window-wrong": "60",
    "shipping-fee-wrong": "6.90",
    "plus-excess-wrong": "59",
    "spare-parts-wrong": "three",
    "multi-claim": "IPX7",
}
SYNTHETIC = ("identity", "compression", "number_change", "entity_swap", "negation")
SYNTHETIC += ("antonym", "quantifier", "role_swap", "added_clause")
THRESHOLDS = tuple(round(0.4 + 0.05 * i, 2) for i in range(9))  # the grid --fit searches


@dataclass(frozen=True)
class SpanCase:
    """A claim, its evidence, the gold character ranges and where the case comes from."""

    claim: str
    evidence: str
    gold: tuple[tuple[int, int], ...]
    source: str
    label: str


def changed_words(source: str, claim: str) -> tuple[tuple[int, int], ...]:
    """Character ranges of the claim's words that replace or add to ``source``'s."""
    from experts.verifiers.spans import words

    a, b = words(source), words(claim)
    matcher = difflib.SequenceMatcher(None, [w.lower for w in a], [w.lower for w in b], False)
    return tuple(
        (w.start, w.end)
        for tag, _, _, j1, j2 in matcher.get_opcodes()
        if tag in ("replace", "insert")
        for w in b[j1:j2]
    )


def vitaminc_cases(frame: pd.DataFrame, max_changed: int = 4) -> list[SpanCase]:
    """Refuted claims with the supported claim of the same evidence they differ least from."""
    cases: list[SpanCase] = []
    for evidence, group in frame.groupby("evidence", sort=True):
        supported = list(dict.fromkeys(group.claim[group.label == "supported"]))
        refuted = list(dict.fromkeys(group.claim[group.label == "contradicted"]))
        used: set[str] = set()
        for claim in refuted:
            if not supported:
                break
            near = max(supported, key=lambda s: difflib.SequenceMatcher(None, s, claim).ratio())
            gold, back = changed_words(near, claim), changed_words(claim, near)
            if 1 <= len(gold) <= max_changed and len(back) <= max_changed:
                cases.append(SpanCase(claim, evidence, gold, "vitaminc", "contradicted"))
                if near not in used:
                    used.add(near)
                    cases.append(SpanCase(near, evidence, (), "vitaminc", "supported"))
    return cases


def synthetic_cases(docs: pd.DataFrame, n_per_transform: int, seed: int) -> list[SpanCase]:
    """The synthetic transforms on ``docs`` with the words each changed as gold."""
    from experts.training import synthetic as syn
    from experts.verifiers.entities import find_entities

    rng = np.random.default_rng(seed)
    pool = syn.source_sentences(docs)
    entities: dict[str, list[str]] = {}
    for s in pool:
        entities.setdefault(s.doc_id, []).extend(
            e.text for e in find_entities(s.text) if e.start > 0
        )
    make = {
        "identity": lambda s: s.text,
        "compression": lambda s: syn.compression(s, rng),
        "number_change": lambda s: syn.number_change(s, rng),
        "entity_swap": lambda s: syn.entity_swap(s, list(dict.fromkeys(entities[s.doc_id])), rng),
        "negation": lambda s: syn.negation(s, rng),
        "antonym": lambda s: syn.antonym(s, rng),
        "quantifier": lambda s: syn.quantifier(s, rng),
        "role_swap": lambda s: syn.role_swap(s, rng),
        "added_clause": lambda s: syn.added_clause(
            s, (syn._topic_neighbour(s, pool, rng) or s).text, rng
        ),
    }
    cases: list[SpanCase] = []
    for name in SYNTHETIC:
        label, made = syn.TRANSFORMS[name], 0
        for k in rng.permutation(len(pool))[: 30 * n_per_transform]:
            s = pool[int(k)]
            claim = make[name](s)
            if not claim or (claim == s.text and name != "identity"):
                continue
            gold = () if label == "supported" else changed_words(s.text, claim)
            if label != "supported" and not gold:
                continue  # a removed negation leaves no word of the claim to mark
            cases.append(SpanCase(claim, s.window, gold, name, label))
            made += 1
            if made >= n_per_transform:
                break
    return cases


def baseline_spans(case: SpanCase) -> list[tuple[int, int]]:
    """The word-overlap baseline: every claim word the evidence does not hold."""
    from experts.verifiers.spans import words

    have = {w.lower for w in words(case.evidence)}
    return [(w.start, w.end) for w in words(case.claim) if w.lower not in have]


def token_prf(cases: list[SpanCase], predicted: list[list[tuple[int, int]]], content: bool):
    """Micro precision, recall and F1 of the words inside predicted spans against gold."""
    from experts.verifiers.spans import words

    tp = fp = fn = 0
    for case, spans in zip(cases, predicted, strict=True):
        for w in words(case.claim):
            if content and not w.content:
                continue
            gold = any(s < w.end and w.start < e for s, e in case.gold)
            hit = any(s < w.end and w.start < e for s, e in spans)
            tp, fp, fn = tp + (gold and hit), fp + (hit and not gold), fn + (gold and not hit)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4), "gold": tp + fn}


def span_figures(cases: list[SpanCase], expert) -> dict:
    """Span P/R/F1 of the expert and of the baseline, overall and per source."""
    pairs = [(c.claim, c.evidence) for c in cases]
    ours = [[(s.start, s.end) for s in spans] for spans in expert.span_batch(pairs)]
    base = [baseline_spans(c) for c in cases]
    out: dict = {}
    for source in ["all", *sorted({c.source for c in cases})]:
        rows = [i for i, c in enumerate(cases) if source == "all" or c.source == source]
        sub = [cases[i] for i in rows]
        out[source] = {"cases": len(sub)}
        for words_in, content in (("all_words", False), ("content_words", True)):
            out[source][words_in] = {
                "alignment": token_prf(sub, [ours[i] for i in rows], content),
                "baseline": token_prf(sub, [base[i] for i in rows], content),
            }
    return out


def fit_threshold(cases: list[SpanCase], expert, grid: tuple[float, ...] = THRESHOLDS) -> float:
    """The threshold with the best all-words span F1 on ``cases`` (train and dev)."""
    pairs = [(c.claim, c.evidence) for c in cases]
    best, best_f1 = expert.threshold, -1.0
    for t in grid:
        expert.threshold = float(t)
        spans = [[(s.start, s.end) for s in row] for row in expert.span_batch(pairs)]
        f1 = token_prf(cases, spans, content=False)["f1"]
        print(f"  threshold {t:.2f}: span F1 {f1:.4f}")
        if f1 > best_f1:
            best, best_f1 = float(t), f1
    expert.threshold = best
    return best


def fit_logistic(pairs: list[tuple[str, str]], labels: list[str], expert) -> tuple[float, float]:
    """``centre`` and ``scale`` of the logistic from unsupported share to p_supported, fitted
    on labelled pairs (supported vs not)."""
    from sklearn.linear_model import LogisticRegression

    readings = expert.analyse(pairs)
    keep = [i for i, a in enumerate(readings) if a.matches]
    x = np.array([[readings[i].unsupported_share] for i in keep])
    y = np.array([labels[i] == "supported" for i in keep])
    model = LogisticRegression(C=100.0).fit(x, y)
    scale = float(-model.coef_[0][0])
    return float(model.intercept_[0]) / scale, scale


def cosine(pairs: list[tuple[str, str]]) -> np.ndarray:
    """MiniLM cosine of each claim and its evidence (the pooled sentence vectors)."""
    from retrieval.embedding import embed_texts

    claims, evidence = embed_texts([c for c, _ in pairs]), embed_texts([e for _, e in pairs])
    return np.sum(claims * evidence, axis=1).astype(np.float64)


def verifier_figures(sets: dict[str, pd.DataFrame], expert, dev_keys: tuple[str, ...]) -> dict:
    """AUROC (alignment, cosine), ECE before/after a temperature fitted on the dev sets,
    ms per pair."""
    from sklearn.metrics import roc_auc_score

    from experts.decision.calibration import expected_calibration_error, fit_calibrator
    from verdictflow.contracts import label_index

    out: dict = {}
    probs: dict[str, np.ndarray] = {}
    for name, frame in sets.items():
        pairs = list(zip(frame.claim, frame.evidence, strict=True))
        expert._cache.clear()
        t0 = time.perf_counter()
        probs[name] = np.concatenate(
            [expert.predict(pairs[i : i + 64]) for i in range(0, len(pairs), 64)]
        )
        ms = 1000 * (time.perf_counter() - t0) / len(pairs)
        y = (frame.label == "supported").to_numpy()
        out[name] = {
            "pairs": len(pairs),
            "auroc_alignment": round(float(roc_auc_score(y, probs[name][:, 0])), 4),
            "auroc_cosine": round(float(roc_auc_score(y, cosine(pairs))), 4),
            "ms_per_pair": round(ms, 2),
        }
    labels = {n: np.array([label_index(x) for x in f.label]) for n, f in sets.items()}
    calibrator = fit_calibrator(
        np.concatenate([probs[k] for k in dev_keys]),
        np.concatenate([labels[k] for k in dev_keys]),
        "temperature",
    )
    for name in sets:
        out[name]["ece_raw"] = round(expected_calibration_error(probs[name], labels[name]), 4)
        # p_supported alone, supported vs not (what the logistic is fitted for).
        p_sup = probs[name][:, 0]
        binary = np.column_stack([p_sup, 1.0 - p_sup, np.zeros_like(p_sup)])
        out[name]["ece_p_supported"] = round(
            expected_calibration_error(binary, (labels[name] != 0).astype(int)), 4
        )
        calibrated = calibrator.transform(probs[name])
        out[name]["ece_temperature"] = round(
            expected_calibration_error(calibrated, labels[name]), 4
        )
    out["temperature_fitted_on"] = list(dev_keys)
    out["temperature"] = round(float(calibrator.params["temperature"]), 4)
    return out


def mixture_figures(
    dev: dict[str, pd.DataFrame], test: dict[str, pd.DataFrame], alignment_prior: float = 2.0
) -> dict:
    """Test AUROC of the gated mixture and of a dev-fitted combiner, with and without the
    alignment expert routed (the registry prior routes; every expert scores every pair).

    With it, its prior is ``alignment_prior``: 2 puts it second after the generalist (3) on
    claims no keyword sends elsewhere; at 1 it ties with the others and never wins a slot."""
    import yaml
    from sklearn.metrics import roc_auc_score

    from experts.mixture.ensemble import mixture
    from experts.mixture.gate import PriorGate
    from experts.mixture.routing import top_k_route
    from experts.mixture.stacking import (
        fit_stacker,
        load_stacker,
        pair_cheap_features,
        stack_features,
    )
    from experts.registry import SHIPPED_REGISTRY, load_experts, load_registry
    from verdictflow.config import get_settings

    raw = yaml.safe_load(SHIPPED_REGISTRY.read_text())
    for entry in raw["experts"]:
        entry["routed"] = True
        if entry["kind"] == "alignment":
            entry["prior"] = alignment_prior
        if entry.get("weights"):
            entry["weights"] = str(SHIPPED_REGISTRY.parent.parent / entry["weights"])
    folder = Path(tempfile.mkdtemp(prefix="spans-mixture-"))
    routed = folder / "registry.yaml"
    routed.write_text(yaml.safe_dump(raw))
    specs = load_registry(routed)
    experts = load_experts(registry=routed)
    settings = get_settings().experts
    k, cap = settings.gate_top_k, settings.gate_capacity_factor
    variants = {
        "without": [s for s in specs if s.kind != "alignment"],
        "with": specs,
    }

    def score(frames: dict[str, pd.DataFrame]) -> dict:
        dense = {}
        for name, frame in frames.items():
            pairs = list(zip(frame.claim, frame.evidence, strict=True))
            dense[name] = (pairs, {n: e.predict(pairs) for n, e in experts.items()})
        return dense

    dev_scores, test_scores = score(dev), score(test)

    def features(entry, chosen):
        pairs, outputs = entry
        names = [s.name for s in chosen]
        routing = top_k_route(PriorGate(chosen).probs(pairs), k, cap)
        feats = stack_features(routing.mask, outputs, names, pair_cheap_features(pairs))
        return routing, names, feats

    out: dict = {"k": k, "alignment_prior": alignment_prior, "auroc": {}}
    for variant, chosen in variants.items():
        xs, ys = [], []
        for name, entry in dev_scores.items():
            xs.append(features(entry, chosen)[2])
            ys.append((dev[name].label == "supported").to_numpy())
        stacker = fit_stacker(np.concatenate(xs), np.concatenate(ys), [s.name for s in chosen])
        shipped = load_stacker([s.name for s in chosen])
        for name, entry in test_scores.items():
            routing, names, feats = features(entry, chosen)
            y = (test[name].label == "supported").to_numpy()
            mixed = mixture(routing, entry[1], names)[:, 0]
            row = out["auroc"].setdefault(name, {})
            row[f"mixture {variant}"] = round(float(roc_auc_score(y, mixed)), 4)
            row[f"combiner (dev-fitted) {variant}"] = round(
                float(roc_auc_score(y, stacker.p_supported(feats))), 4
            )
            if shipped is not None:
                row["combiner (shipped) without"] = round(
                    float(roc_auc_score(y, shipped.p_supported(feats))), 4
                )
            row["alignment alone"] = round(float(roc_auc_score(y, entry[1]["alignment"][:, 0])), 4)
            share = routing.mask[:, names.index("alignment")].mean() if "alignment" in names else 0
            row[f"alignment routed share {variant}"] = round(float(share), 4)
    cols = next(iter(out["auroc"].values())).keys()
    out["mean"] = {c: round(float(np.mean([r[c] for r in out["auroc"].values()])), 4) for c in cols}
    return out


def demo_check() -> dict:
    """Spans of the demo items whose only change is one value or one name, through the real
    pipeline (ingest the demo corpus, verify in-process) in a temporary home."""
    from verdictflow.config import reset_settings

    home = Path(tempfile.mkdtemp(prefix="spans-demo-"))
    os.environ["VERDICTFLOW_HOME"] = str(home)
    os.environ["VERDICTFLOW_VERIFY__FAST_PATH_MAX_ITEMS"] = "1000"
    reset_settings()
    from flows.pipeline import Inline, verify_pipeline
    from retrieval.ingest import ingest_paths

    ingest_paths([DEMO / "corpus"])
    result = verify_pipeline(Inline(), path=str(DEMO / "items.jsonl"))
    out = {}
    for verdict in result.verdicts:
        changed = DEMO_CHANGES.get(verdict.item_id)
        if changed is None:
            continue
        claim = next((c for c in verdict.claims if changed in c.text), verdict.deciding_claim)
        at = claim.text.index(changed)
        covered = any(s.start <= at and at + len(changed) <= s.end for s in claim.spans)
        out[verdict.item_id] = {
            "changed": changed,
            "verdict": claim.label.value,
            "spans": [f"{s.kind}:{s.text}" for s in claim.spans],
            "covered": covered,
            "exact": any(s.text == changed for s in claim.spans),
        }
    out["covered"] = f"{sum(v['covered'] for v in out.values())}/{len(DEMO_CHANGES)}"
    return out


def markdown(result: dict) -> str:
    """The figures as Markdown tables."""
    lines = ["## Span quality (test splits; token-level, micro)", ""]
    lines += ["| set | cases | words | alignment P / R / F1 | baseline P / R / F1 |"]
    lines += ["|---|---|---|---|---|"]
    for set_name, figures in result["spans"].items():
        for source, f in figures.items():
            for words_in in ("all_words", "content_words"):
                a, b = f[words_in]["alignment"], f[words_in]["baseline"]
                lines.append(
                    f"| {set_name}:{source} | {f['cases']} | {words_in} | {a['precision']} / "
                    f"{a['recall']} / **{a['f1']}** | {b['precision']} / {b['recall']} / "
                    f"{b['f1']} |"
                )
    lines += ["", "## The alignment expert alone as a verifier", ""]
    lines += [
        "| pairs | n | AUROC alignment | AUROC cosine | ECE p_supported | ECE 3-class raw / "
        "temperature | ms/pair |"
    ]
    lines += ["|---|---|---|---|---|---|---|"]
    for name, f in result["verifier"].items():
        if isinstance(f, dict):
            lines.append(
                f"| {name} | {f['pairs']} | {f['auroc_alignment']} | {f['auroc_cosine']} | "
                f"{f['ece_p_supported']} | {f['ece_raw']} / {f['ece_temperature']} | "
                f"{f['ms_per_pair']} |"
            )
    if "mixture" in result:
        mix = result["mixture"]
        cols = list(mix["mean"])
        lines += [
            "",
            f"## Mixture with and without it (prior gate, top-{mix['k']}, its prior "
            f"{mix.get('alignment_prior', 1.0)}; test AUROC)",
            "",
        ]
        lines += ["| set | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        for name, row in [*mix["auroc"].items(), ("mean", mix["mean"])]:
            lines.append(f"| {name} | " + " | ".join(str(row[c]) for c in cols) + " |")
    if "demo" in result:
        lines += ["", f"## Demo: changed words covered {result['demo']['covered']}", ""]
        for item, f in result["demo"].items():
            if isinstance(f, dict):
                lines.append(
                    f"- {item}: {f['changed']!r} {'covered' if f['covered'] else 'MISSED'} "
                    f"({f['verdict']}; spans {f['spans']})"
                )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="Tune on train/dev and print it.")
    parser.add_argument("--cases", type=int, default=600, help="Span cases per set and split.")
    parser.add_argument("--pairs", type=int, default=1000, help="Verifier pairs per split.")
    parser.add_argument("--mixture", type=int, default=0, metavar="PAIRS", help="Mixture pairs.")
    parser.add_argument("--no-demo", action="store_true", help="Skip the demo check.")
    parser.add_argument(
        "--mixture-only", action="store_true", help="Only the mixture (updates --json in place)."
    )
    parser.add_argument("--alignment-prior", type=float, default=2.0, help="Its prior, routed.")
    parser.add_argument("--json", type=Path, default=RESULTS / "spans.json")
    args = parser.parse_args()

    from experts.training import data as vdata
    from experts.training.data_sources import SQUAD_SHIFTS, bigbench_file, news_articles
    from experts.training.train_run import sample_eval
    from experts.verifiers.alignment import AlignmentExpert
    from experts.verifiers.idf import IdfTable
    from verdictflow.config import get_settings

    seed = get_settings().training.seed
    if args.mixture_only:
        result = json.loads(args.json.read_text()) if args.json.exists() else {}
        result["mixture"] = _mixture(args.mixture or 300, seed, args.alignment_prior)
        _write(result, args.json)
        return
    vitaminc = vdata.splits(vdata.load_vitaminc(), "page")
    frames = [news_articles()]
    for name in SQUAD_SHIFTS:
        raw = json.loads(bigbench_file(f"squad_shifts/{name}_v1.0.json").read_text())
        frames.append(
            pd.DataFrame(
                [
                    (f"{name}:{a}:{p}", para["context"])
                    for a, article in enumerate(raw["data"])
                    for p, para in enumerate(article["paragraphs"])
                ],
                columns=["doc_id", "text"],
            )
        )
    docs = vdata.splits(pd.concat(frames, ignore_index=True), "doc_id")

    def sample(cases: list[SpanCase], n: int) -> list[SpanCase]:
        order = np.random.default_rng(seed).permutation(len(cases))[:n]
        return [cases[i] for i in sorted(order)]

    per_transform = max(1, args.cases // len(SYNTHETIC))
    span_sets = {
        split: {
            "vitaminc": sample(vitaminc_cases(vitaminc[split]), args.cases),
            "synthetic": synthetic_cases(docs[split], per_transform, seed),
        }
        for split in ("train", "dev", "test")
    }
    idf = IdfTable.from_texts(
        list(dict.fromkeys(vitaminc["train"].evidence)) + docs["train"].text.tolist(), "train"
    )
    expert = AlignmentExpert(idf_table=idf, cache_size=None)
    result: dict = {"idf_documents": idf.n_documents}
    result["expert"] = {k: getattr(expert, k) for k in ("threshold", "margin", "centre", "scale")}
    if args.fit:
        tune = [
            c for split in ("train", "dev") for cases in span_sets[split].values() for c in cases
        ]
        result["threshold"] = fit_threshold(tune, expert)
        dev_pairs = sample_eval(vitaminc["dev"], args.pairs, seed)
        dev_cases = span_sets["dev"]["synthetic"]
        pairs = list(zip(dev_pairs.claim, dev_pairs.evidence, strict=True))
        pairs += [(c.claim, c.evidence) for c in dev_cases]
        labels = dev_pairs.label.tolist() + [c.label for c in dev_cases]
        expert.centre, expert.scale = fit_logistic(pairs, labels, expert)
        result["fitted"] = {
            "threshold": result.pop("threshold"),
            "centre": round(expert.centre, 4),
            "scale": round(expert.scale, 3),
        }
        print(f"fitted: threshold {expert.threshold}, centre {expert.centre}, scale {expert.scale}")
    result["spans"] = {
        name: span_figures(cases, expert) for name, cases in span_sets["test"].items()
    }
    verifier_sets = {
        f"vitaminc {split}": sample_eval(vitaminc[split], args.pairs, seed)
        for split in ("dev", "test")
    }
    for split in ("dev", "test"):
        cases = span_sets[split]["synthetic"]
        verifier_sets[f"synthetic {split}"] = pd.DataFrame(
            [(c.claim, c.evidence, c.label) for c in cases], columns=["claim", "evidence", "label"]
        )
    result["verifier"] = verifier_figures(verifier_sets, expert, ("vitaminc dev", "synthetic dev"))
    if args.mixture:
        result["mixture"] = _mixture(args.mixture, seed, args.alignment_prior)
    if not args.no_demo:
        result["demo"] = demo_check()
    _write(result, args.json)


def _mixture(pairs: int, seed: int, alignment_prior: float) -> dict:
    from experts.training import data as vdata
    from experts.training.train_run import sample_eval

    loaded = vdata.load_datasets(vdata.DATASETS)
    parts = {ds: vdata.splits(df, col) for ds, (df, col) in loaded.items()}
    dev = {ds: sample_eval(p["dev"], pairs, seed) for ds, p in parts.items()}
    test = {ds: sample_eval(p["test"], pairs, seed) for ds, p in parts.items()}
    return mixture_figures(dev, test, alignment_prior)


def _write(result: dict, path: Path) -> None:
    text = markdown(result)
    print(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    path.with_suffix(".md").write_text(text)


if __name__ == "__main__":
    main()
