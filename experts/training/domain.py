"""Train a domain expert on a user's own corpus: pairs -> fine-tune -> measure -> register.

``train_domain_expert`` builds labelled pairs from the corpus (``domain_data``), fine-tunes
the generalist on the training documents' pairs within a wall-clock budget (resumable: a
stopped run goes on from its checkpoint), measures it against the generalist on the test
documents, and writes everything the pipeline needs under ``HOME/models/NAME``: the weights,
a model card, the routing profile (``domain.json``) and, when a fitted combiner is in force,
the expert's term on top of it (``combiner.json``). It is registered in the domain registry
(``HOME/models/domains.yaml``) with ``domains: [NAME]``, unless it is worse than the
generalist on its own test documents: then it is refused (``force`` registers it anyway) and
the expert registered before, if any, stays.
"""

from __future__ import annotations

import json
import math
import re
import shlex
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from experts.mixture.domain_terms import fit_domain_term
from experts.mixture.domains import PROFILE_FILE, centroid_profile
from experts.mixture.routing import top_k_route
from experts.mixture.stacking import load_stacker, pair_cheap_features, stack_features
from experts.registry import ExpertSpec, load_registry, register_expert
from experts.training import domain_data, synthetic
from experts.training.loop import (
    TrainConfig,
    TrainingSpec,
    load_expert,
    p_supported,
    predict_proba,
    save_expert,
    train_expert,
)
from retrieval.embedding import embed_texts
from verdictflow.config import get_settings
from verdictflow.contracts import LABELS

NAME_RULE = r"^[A-Za-z0-9_.-]+$"


class DomainExpertRefused(ValueError):
    """A domain expert worse than the generalist on its own test documents: not registered."""


def worse_than_base(test: dict) -> str | None:
    """Why a domain expert should not replace the generalist on its domain: its AUROC on its
    own test documents is below the generalist's (``held_out_figures``); None when it is not
    (or either figure is missing: a test split of one label)."""
    mine, base = test.get("domain_auroc"), test.get("base_auroc")
    if mine is None or base is None or mine >= base:
        return None
    return f"on its test documents AUROC {mine} is below the generalist's {base}"


def reproduce_command(name: str, source: dict) -> str:
    """The command that trains the domain expert ``name`` again on ``source`` (its paths, or
    its store filter), as the CLI takes it."""
    command = ["verdictflow", "experts", "train-domain", name]
    if source.get("paths"):
        command += ["--corpus", *source["paths"]]
    elif source.get("store_filter"):
        command.append("--from-store")
        for key, value in source["store_filter"].items():
            for one in value if isinstance(value, list) else [value]:
                command += ["--filter", f"{key}={one}"]
    else:
        command += ["--corpus", "PATH"]
    return shlex.join(command)


def base_expert(name: str | None = None) -> ExpertSpec:
    """The registry's cross-encoder a domain expert starts from (``domains.base_expert``)."""
    wanted = name or get_settings().domains.base_expert
    for spec in load_registry():
        if spec.name == wanted and spec.kind == "cross_encoder":
            return spec
    raise ValueError(f"base expert {wanted!r} is not an available cross-encoder of the registry")


def domain_config(minutes: float | None, max_length: int, train_pairs: int) -> TrainConfig:
    """The training run's settings: ``settings.domains`` within ``minutes``, at most
    ``domains.epochs`` passes over ``train_pairs``."""
    t, d = get_settings().training, get_settings().domains
    steps = max(1, min(d.max_steps, math.ceil(d.epochs * train_pairs / d.batch_size)))
    return TrainConfig(
        max_length=max_length,
        batch_size=d.batch_size,
        learning_rate=d.learning_rate,
        warmup_ratio=0.1,
        weight_decay=t.weight_decay,
        frozen_layers=0,
        max_steps=steps,
        eval_every=min(d.eval_every, steps),
        patience=10**6,  # the budget decides; the best dev weights are kept
        dev_pairs=400,
        threads=get_settings().training_threads(),
        seed=t.seed,
        label_smoothing=0.05,
        distill=d.distill,
        time_budget_s=60.0 * (d.minutes if minutes is None else minutes),
    )


def auroc(labels: pd.Series, probs: np.ndarray) -> float | None:
    """AUROC of p_supported, supported vs the rest (None with one class)."""
    from sklearn.metrics import roc_auc_score

    y = (labels == "supported").to_numpy()
    return round(float(roc_auc_score(y, p_supported(probs))), 4) if 0 < y.sum() < len(y) else None


def held_out_figures(model, base_model, test: pd.DataFrame) -> dict:
    """AUROC of the domain expert and of the generalist on the test documents' pairs, and
    each one's accuracy per transform (supported / not at 0.5)."""
    mine = predict_proba(model, test["evidence"], test["claim"])
    theirs = predict_proba(base_model, test["evidence"], test["claim"])
    right = lambda probs: (p_supported(probs) >= 0.5) == (test["label"] == "supported")  # noqa: E731
    per_transform = {
        str(name): {
            "pairs": int(len(rows)),
            "domain_acc": round(float(right(mine)[rows.index].mean()), 4),
            "base_acc": round(float(right(theirs)[rows.index].mean()), 4),
        }
        for name, rows in test.groupby("transform", sort=True)
    }
    return {
        "pairs": len(test),
        "domain_auroc": auroc(test["label"], mine),
        "base_auroc": auroc(test["label"], theirs),
        "transforms": per_transform,
    }


def fit_term(name: str, out_dir: Path, dev: pd.DataFrame) -> dict:
    """Fit the domain expert's term on top of the combiner in force, on its dev pairs routed
    as the pipeline routes them (every dev pair is in the domain); skipped without one."""
    from experts.mixture.gate import load_gate
    from experts.registry import cached_expert

    specs = load_registry()
    names = [s.name for s in specs]
    base = load_stacker([n for n in names if n != name])
    if base is None:
        return {"combiner_term": None, "why": "no fitted combiner for the other experts"}
    pairs = list(zip(dev["claim"], dev["evidence"], strict=True))
    gate = load_gate(specs)
    probs = gate.probs(pairs, [(name,)] * len(pairs))
    settings = get_settings().experts
    routing = top_k_route(probs, settings.gate_top_k, settings.gate_capacity_factor)
    outputs = {n: np.asarray(cached_expert(n).predict(pairs)) for n in gate.expert_names}
    features = stack_features(routing.mask, outputs, gate.expert_names, pair_cheap_features(pairs))
    y = (dev["label"] == "supported").to_numpy()
    term = fit_domain_term(base, gate.expert_names, name, features, y)
    term.save(out_dir)
    routed = float(routing.mask[:, gate.expert_names.index(name)].mean())
    return {"combiner_term": term.weights.round(4).tolist(), "dev_routed_share": round(routed, 4)}


def train_domain_expert(
    name: str,
    docs: pd.DataFrame,
    minutes: float | None = None,
    source: dict | None = None,
    log: Callable[[str], None] = print,
    force: bool = False,
) -> dict:
    """Train, measure and register the domain expert ``name`` on ``docs`` (``doc_id``,
    ``text``); returns its summary (also in its model card). ``source`` says where the corpus
    came from (``{"paths": [...]}`` or ``{"store_filter": {...}}``): retraining reads it again.
    ``force``: register it even when it is worse than the generalist on its test documents.

    Raises:
        DomainCorpusError: the corpus breaks a rule (too few documents, no sentences).
        DomainExpertRefused: it is worse than the generalist (its weights stay in the
            checkpoint folder; the expert registered before stays).
        ValueError: a bad name, or one taken by the registry in force.
    """
    if not re.match(NAME_RULE, name):
        raise ValueError(f"domain expert name {name!r}: letters, digits, '_', '.', '-' only")
    settings = get_settings()
    source = source or {}
    corpus = ", ".join(source.get("paths", [])) or json.dumps(source.get("store_filter", {}))
    domain_data.check_corpus(docs)
    digest = domain_data.corpus_hash(docs)
    started = time.perf_counter()
    pairs = domain_data.domain_pairs(docs)
    parts = domain_data.split_documents(docs["doc_id"].tolist())
    frames = {k: v.assign(dataset=name) for k, v in domain_data.split_pairs(pairs, parts).items()}
    for split in ("train", "dev"):
        if frames[split]["label"].nunique() < 2:
            raise domain_data.DomainCorpusError(
                f"corpus: rule labels: the {split} documents yield pairs of one label only"
            )
    log(f"{name}: {len(pairs)} pairs from {len(docs)} documents ({digest[:12]})")
    base = base_expert()
    limit = base.max_length or settings.experts.max_length
    cfg = domain_config(minutes, limit, len(frames["train"]))
    work = settings.models_dir / "checkpoints" / f"domain-{name}-{digest[:12]}"
    teacher = load_expert(base.weights)[0] if cfg.distill else None
    model, result = train_expert(
        name, LABELS, frames["train"], frames["dev"], cfg, work, base.weights, log, teacher
    )
    train_s = time.perf_counter() - started
    out_dir = settings.models_dir / name
    spec = TrainingSpec(name, ("corpus",), LABELS, (name,), description=f"Domain {name}.")
    candidate = save_expert(model, spec, work / "candidate", "")
    shipped, _ = load_expert(candidate)
    base_model = teacher if teacher is not None else load_expert(base.weights)[0]
    figures = held_out_figures(shipped, base_model, frames["test"])
    worse = worse_than_base(figures)
    if worse and not force:
        raise DomainExpertRefused(
            f"not registered: {worse}; its weights are in {candidate} (--force, or the "
            "flow's force=True, registers it)"
        )
    install(candidate, out_dir)
    sentences = [s.text for s in synthetic.source_sentences(docs)]
    centroid, threshold = centroid_profile(
        embed_texts(sentences), settings.domains.centroid_quantile
    )
    profile = {
        "name": name,
        "corpus": corpus,
        "source": source,
        "corpus_sha256": digest,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "doc_ids": sorted(docs["doc_id"].astype(str)),
        "chunk_hashes": domain_data.chunk_hashes(docs),
        "centroid": centroid.round(6).tolist(),
        "threshold": round(threshold, 6),
        "base_expert": base.name,
    }
    (out_dir / PROFILE_FILE).write_text(json.dumps(profile) + "\n")
    register_expert(
        {
            "name": name,
            "kind": "cross_encoder",
            "weights": str(out_dir.resolve()),
            "domains": [name],
            "domain_only": True,
            "prior": settings.domains.prior,
        }
    )
    term = fit_term(name, out_dir, frames["dev"])
    summary = {
        "name": name,
        "path": str(out_dir),
        "corpus": corpus,
        "corpus_sha256": digest,
        "documents": {k: len(v) for k, v in parts.items()},
        "pairs": {k: len(v) for k, v in frames.items()},
        "transforms": synthetic.transform_counts(pairs),
        "steps": result.steps,
        "resumed_from": result.resumed_from,
        "best_dev": round(result.best_dev, 4),
        "train_seconds": round(train_s, 1),
        "train_pairs_per_s": result.train_pairs_per_s,
        "test": figures,
        "warning": f"registered with force: {worse}" if worse else None,
        "reproduce": reproduce_command(name, source),
        **term,
        "history": result.history,
    }
    (out_dir / "model_card.md").write_text(model_card(summary, cfg))
    log(json.dumps({k: v for k, v in summary.items() if k != "history"}))
    return summary


def install(candidate: Path, out_dir: Path) -> None:
    """Put the candidate's folder in the place of ``out_dir`` (the expert trained there
    before goes; both are under HOME/models, so each move is a rename)."""
    replaced = out_dir.with_name(f".{out_dir.name}.replaced")
    shutil.rmtree(replaced, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(replaced)
    candidate.rename(out_dir)
    shutil.rmtree(replaced, ignore_errors=True)


def model_card(summary: dict, cfg: TrainConfig) -> str:
    """The domain expert's model card: corpus, pair counts, training, dev and test figures."""
    lines = [
        f"# verdictflow domain expert `{summary['name']}`",
        "",
        f"- corpus: {summary['corpus'] or '(given as documents)'}, sha256 "
        f"`{summary['corpus_sha256']}`; documents per split {summary['documents']}",
        f"- pairs per split {summary['pairs']}; per transform {summary['transforms']}",
        f"- warm start: the generalist; {summary['steps']} steps "
        f"({summary['train_pairs_per_s']} pairs/s, {summary['train_seconds']} s)",
        f"- test documents (never trained on): {json.dumps(summary['test'])}",
        f"- combiner term: {summary.get('combiner_term')}",
        *([f"- warning: {summary['warning']}"] if summary.get("warning") else []),
        "",
        "## Dev curve (AUROC of p_supported)",
        "| step | train loss | dev |",
        "|---|---|---|",
        *(
            f"| {h['step']} | {h['train_loss']:.4f} | {h['dev']['mean']:.4f} |"
            for h in summary["history"]
        ),
        "",
        "## Training settings",
        "```json",
        json.dumps(cfg.__dict__, indent=1, sort_keys=True),
        "```",
        "",
        f"Reproduce: `{summary['reproduce']}`.",
        "",
    ]
    return "\n".join(lines)
