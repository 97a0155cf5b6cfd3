"""Reproduce the shipped experts' figures on the held-out test splits.

    python -m benchmarks.eval_experts [--models models] [--pairs 1000] [--json out.json]
        [--mixture 300]

For each expert in ``models/`` (generalist, qa, long_sources): metrics on the test split of
each of its data sets (the same seeded sample of ``settings.training.eval_pairs`` pairs the
model cards report), CPU pairs/s in the shipped format, and the claim-length-only baseline.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from experts.training import data as vdata
from experts.training.loop import EXPERT_SPECS, load_expert, p_supported, predict_proba
from experts.training.train_run import evaluate, frames_for, pairs_per_second, sample_eval
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
        model, _ = load_expert(path)
        frames = frames_for(spec, parts)
        test = pd.concat(
            [
                sample_eval(frames["test"][frames["test"].dataset == ds], pairs, seed)
                for ds in spec.datasets
            ],
            ignore_index=True,
        )
        figures = evaluate(model, spec, test)
        scorer = expert_scorer(model)
        for ds in spec.datasets:
            dev = sample_eval(frames["dev"][frames["dev"].dataset == ds], pairs // 2, seed)
            figures[ds].update(robustness(scorer, dev, test[test.dataset == ds]))
        speed = pairs_per_second(model, test)
        size_mb = round((path / "model.safetensors").stat().st_size / 2**20, 1)
        out["experts"][name] = {"test": figures, "cpu_pairs_per_s": speed, "size_mb": size_mb}
    return out


def expert_scorer(model) -> Callable[[pd.DataFrame], np.ndarray]:
    """p_supported of a cross-encoder on a frame's (evidence, claim) rows."""

    def p_sup(frame: pd.DataFrame) -> np.ndarray:
        probs = predict_proba(model, frame["evidence"], frame["claim"])
        return p_supported(probs)

    return p_sup


def robustness(p_sup: Callable[[pd.DataFrame], np.ndarray], dev, test) -> dict:
    """Balanced accuracy at a threshold fitted on dev (not 0.5), and AUROC with every claim
    paired with another record's evidence: near 0.5 when the expert reads the evidence,
    near its real AUROC when the claim's wording alone gives the label away."""
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    dev, test = dev.reset_index(drop=True), test.reset_index(drop=True)
    y_dev, p_dev = (dev["label"] == "supported").to_numpy(), p_sup(dev)
    candidates = np.unique(np.quantile(p_dev, np.linspace(0.02, 0.98, 49)))
    threshold = max(candidates, key=lambda t: balanced_accuracy_score(y_dev, p_dev >= t))
    y = (test["label"] == "supported").to_numpy()
    shift = np.roll(np.arange(len(test)), len(test) // 2)  # another record's evidence
    wrong = test.assign(evidence=test["evidence"].to_numpy()[shift])
    return {
        "dev_threshold": round(float(threshold), 4),
        "balanced_acc_dev_threshold": round(
            float(balanced_accuracy_score(y, p_sup(test) >= threshold)), 4
        ),
        "auroc_wrong_evidence": round(float(roc_auc_score(y, p_sup(wrong))), 4),
    }


def mixture(pairs: int, registry: str | None = None, gate_paths: Sequence[Path] = ()) -> dict:
    """Gated mixtures against each single expert: AUROC of p_supported per test set.

    Every registry expert scores the same ``pairs`` test pairs of each data set (dense, once);
    each gate (the one in force, the registry prior, and a learned gate per ``gate_paths``)
    routes each pair to its top-k experts, mixed as the verify flow does.
    """
    from sklearn.metrics import roc_auc_score

    from experts.mixture.ensemble import mixture as mix
    from experts.mixture.gate import PriorGate, load_gate
    from experts.mixture.routing import top_k_route
    from experts.mixture.stacking import load_stacker, pair_cheap_features, stack_features
    from experts.registry import load_experts, load_registry
    from experts.training.gate_training import expert_outputs

    settings = get_settings()
    specs = load_registry(registry)
    experts = load_experts(registry=registry)
    names = list(experts)
    gate = load_gate(specs)
    gates = {f"gated mixture ({gate.version}, in force)": gate}
    if gate.version != "prior":
        gates["gated mixture (prior)"] = PriorGate(specs)
    for path in gate_paths:
        learned = load_gate(specs, path)
        gates[f"gated mixture ({Path(path).name} {learned.version})"] = learned
    k = settings.experts.gate_top_k
    out: dict = {"gate": gate.version, "k": k, "auroc": {}}
    for ds, (df, col) in vdata.load_datasets(vdata.DATASETS).items():
        test = sample_eval(vdata.splits(df, col)["test"], pairs, settings.training.seed)
        rows = list(zip(test["claim"], test["evidence"], strict=True))
        y = (test["label"] == "supported").to_numpy()
        dense = expert_outputs(experts, rows)  # [n, E, 3]
        scores = {n: dense[:, i, 0] for i, n in enumerate(names)}
        for label, g in gates.items():
            routing = top_k_route(g.probs(rows), k, settings.experts.gate_capacity_factor)
            outputs = {n: dense[:, names.index(n)] for n in g.expert_names}
            scores[label] = mix(routing, outputs, g.expert_names)[:, 0]
        scores["dense mean"] = dense[:, [names.index(n) for n in gate.expert_names], 0].mean(1)
        stacker = load_stacker(gate.expert_names)
        if stacker is not None:
            routing = top_k_route(gate.probs(rows), k, settings.experts.gate_capacity_factor)
            outputs = {n: dense[:, names.index(n)] for n in gate.expert_names}
            cheap = pair_cheap_features(rows)
            features = stack_features(routing.mask, outputs, gate.expert_names, cheap)
            scores[f"learned combiner ({stacker.version}, in force)"] = stacker.p_supported(
                features
            )
        out["auroc"][ds] = {n: round(float(roc_auc_score(y, p)), 4) for n, p in scores.items()}
    means = {
        n: round(float(np.mean([a[n] for a in out["auroc"].values()])), 4)
        for n in next(iter(out["auroc"].values()))
    }
    out["mean"] = means
    singles = {n: v for n, v in means.items() if n in names}
    out["best_single"] = max(singles, key=singles.get)
    return out


def mixture_markdown(result: dict) -> str:
    """The mixture comparison as a table: one row per expert, one column per data set."""
    sets = list(result["auroc"])
    lines = [
        f"Gate {result['gate']}, top-{result['k']}; AUROC of p_supported on the test splits",
        "",
        "| scorer | " + " | ".join(sets) + " | mean |",
        "|---|" + "---|" * (len(sets) + 1),
    ]
    for name, mean in result["mean"].items():
        cells = " | ".join(str(result["auroc"][ds][name]) for ds in sets)
        lines.append(f"| {name} | {cells} | {mean} |")
    lines.append(f"\nBest single expert: {result['best_single']}.")
    return "\n".join(lines)


def markdown(result: dict) -> str:
    """The figures as a markdown table."""
    lines = [
        "| expert | data set | pairs | AUROC | balanced acc (0.5 / dev threshold) "
        "| 3-class macro-F1 | AUROC, wrong evidence | length-only AUROC | CPU pairs/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["experts"].items():
        for ds, m in r["test"].items():
            lines.append(
                f"| {name} | {ds} | {m['pairs']} | {m.get('auroc', '-')} | {m['balanced_acc']} / "
                f"{m.get('balanced_acc_dev_threshold', '-')} | {m.get('macro_f1_3class', '-')} "
                f"| {m.get('auroc_wrong_evidence', '-')} | {m['length_only_auroc']} "
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
    parser.add_argument(
        "--gate", type=Path, action="append", default=[], help="A learned gate to compare too."
    )
    parser.add_argument(
        "--mixture-only", action="store_true", help="Only the mixture (updates --json in place)."
    )
    parser.add_argument(
        "--mixture",
        type=int,
        default=0,
        metavar="PAIRS",
        help="Also compare the gated mixture with each expert on PAIRS test pairs per set.",
    )
    args = parser.parse_args()
    if args.mixture_only:
        result = json.loads(args.json.read_text()) if args.json and args.json.exists() else {}
    else:
        result = run(args.models, args.pairs)
        print(markdown(result))
    if args.mixture:
        result["mixture"] = mixture(args.mixture, gate_paths=args.gate)
        print("\n" + mixture_markdown(result["mixture"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.update_cards and "experts" in result:
        update_cards(args.models, result)


if __name__ == "__main__":
    main()
