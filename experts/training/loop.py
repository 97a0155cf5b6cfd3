"""Fine-tune MiniLM cross-encoders into verifier experts: seeded, resumable, early-stopped.

Pairs are tokenized and scored as serving does (``experts.verifiers.cross_encoder``:
the CrossEncoder's preprocessing, ``longest_first`` truncation at ``max_length``). A 3-class
expert (supported / contradicted / not_enough_info) can also learn from 2-class rows
("not_supported"): their loss is ``-log(p_contradicted + p_not_enough_info)``.

Why this loop and not sentence-transformers' ``CrossEncoderTrainer`` (the same CrossEncoder,
the same budget: ``benchmarks/trainer_compare.py``, results in
``benchmarks/results/trainer_compare.json``): on 400 steps x 16 VitaminC pairs from MiniLM
(6 layers), side by side under one load, this loop took 851 s (7.5 pairs/s; length-grouped
batches pad less) against 1,466 s (4.4 pairs/s), for the same dev AUROC (0.538 vs 0.543) and
a better 3-class macro-F1 (0.387 vs 0.287). It also has what the trainer would need callbacks
and two extra dependencies (``datasets``, ``accelerate``) for: the 2-class rows' loss, early
stopping on the mean of the per-data-set dev AUROCs, and exact resume of the data order.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from experts.training.expert_io import (  # noqa: F401  (re-exported: the training API in one place)
    base_model_path,
    build_model,
    freeze_lower,
    load_expert,
    p_supported,
    predict_proba,
    save_expert,
    set_max_length,
)
from experts.training.specs import (  # noqa: F401
    BINARY_LABELS,
    EXPERT_SPECS,
    TARGETS,
    TrainConfig,
    TrainingSpec,
    TrainResult,
)
from experts.verifiers.cross_encoder import encode, pair_logits
from verdictflow.config import get_settings
from verdictflow.contracts import LABELS, SUPPORTED, label_index


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def target_ids(labels: Sequence[str], model_labels: Sequence[str]) -> np.ndarray:
    """Map data labels to training targets for a model with ``model_labels``: a LABELS
    column, or 3 (``TARGETS[3]``) for two-class data's "not_supported" on a 3-class model."""
    binary = tuple(model_labels) == BINARY_LABELS
    out = []
    for i, label in enumerate(labels):
        column = label_index(label, f"training row {i}")
        if binary:
            out.append(0 if column == SUPPORTED else 1)
        else:
            out.append(len(LABELS) if label == "not_supported" else column)
    return np.array(out, dtype=np.int64)


def dev_score(model, dev: pd.DataFrame) -> dict[str, float]:
    """Dev metrics: AUROC of p_supported (supported vs not) per data set and their mean."""
    from sklearn.metrics import roc_auc_score

    probs = predict_proba(model, dev["evidence"], dev["claim"])
    scores = {}
    for name, part in dev.groupby("dataset"):
        y = (part["label"] == "supported").to_numpy()
        if 0 < y.sum() < len(y):
            scores[str(name)] = float(roc_auc_score(y, p_supported(probs[part.index.to_numpy()])))
    scores["mean"] = float(np.mean(list(scores.values()))) if scores else 0.0
    return scores


def class_weights(targets: np.ndarray, n_targets: int) -> np.ndarray:
    """Inverse-frequency weights, mean 1 over the classes present."""
    counts = np.bincount(targets, minlength=n_targets).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1), 0.0)
    present = counts > 0
    weights[present] /= weights[present].mean()
    return weights.astype(np.float32)


def pair_loss(logits, targets, weights, smoothing: float = 0.0, row_weights=None):
    """Weighted NLL; target 3 ('not_supported') on a 3-class model is -log(1 - p_supported).

    With ``smoothing`` ε, each row's loss is ``(1 - ε) * NLL + ε * (mean NLL over the model's
    labels)``: label smoothing, which keeps the logits from growing without end on the easy
    rows (less overconfidence on text unlike the training data). ``row_weights`` (one per
    row, e.g. ``bias.debiased_weights``) multiply the class weights.
    """
    import torch

    logp = torch.log_softmax(logits.float(), dim=-1)
    if logits.shape[-1] == 3:
        not_sup = torch.logsumexp(logp[:, 1:], dim=-1)
        full = torch.cat([logp, not_sup[:, None]], dim=-1)
    else:
        full = logp
    nll = -full.gather(1, targets[:, None]).squeeze(1)
    if smoothing:
        nll = (1.0 - smoothing) * nll - smoothing * logp.mean(dim=-1)
    w = weights[targets]
    if row_weights is not None:
        w = w * row_weights
    return (nll * w).sum() / w.sum().clamp_min(1e-8)


def distill_loss(logits, teacher_logits):
    """KL(teacher || student) of the label distributions, averaged over the batch."""
    import torch

    target = torch.softmax(teacher_logits.float(), dim=-1)
    logp = torch.log_softmax(logits.float(), dim=-1)
    return torch.nn.functional.kl_div(logp, target, reduction="batchmean")


def length_grouped_order(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator, pool_batches: int = 50
) -> np.ndarray:
    """A shuffled epoch order whose batches hold pairs of similar length (less padding).

    Pools of ``pool_batches`` batches are sorted by length and cut into batches; the batches
    are then shuffled, so each epoch still sees the data in a random order. It assumes length
    does not predict the label (the loaders balance HaluEval per length for that reason).
    """
    order = rng.permutation(len(lengths))
    pool = batch_size * pool_batches
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return np.concatenate([batches[i] for i in rng.permutation(len(batches))])


def _sample_rows(df: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    if n is None or len(df) <= n:
        return df.reset_index(drop=True)
    return df.sample(n=n, random_state=seed).reset_index(drop=True)


def train_expert(
    name: str,
    labels: Sequence[str],
    train: pd.DataFrame,
    dev: pd.DataFrame,
    cfg: TrainConfig,
    work_dir: Path,
    base: Path | None = None,
    log: Callable[[str], None] = print,
    teacher=None,
):
    """Fine-tune one expert; resumes from ``work_dir/last.pt``; returns (model, result).

    ``train`` and ``dev`` have columns evidence, claim, label and dataset. The model returned
    holds the best dev weights seen. With a ``teacher`` (a model with the same labels) and
    ``cfg.distill`` > 0, each batch's loss also pulls towards the teacher's probabilities
    (``distill_loss``): what the teacher knew is not forgotten on the new data.
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    set_seed(cfg.seed)
    device = get_settings().resolved_device()

    budget = cfg.max_steps * cfg.batch_size
    train = _sample_rows(train, min(cfg.max_train_pairs or budget, budget), cfg.seed)
    dev = _sample_rows(dev, cfg.dev_pairs, cfg.seed)
    model = build_model(labels, cfg.num_layers, base, cfg.max_length)
    freeze_lower(model, cfg.frozen_layers)
    model.to(device)

    targets = target_ids(train["label"], labels)
    n_targets = len(TARGETS) if len(labels) == 3 else len(labels)
    weights = torch.tensor(class_weights(targets, n_targets), device=device)
    evidence, claims = train["evidence"].tolist(), train["claim"].tolist()
    # Per-row token limits (the need of each row's source), else the config's for all.
    row_limits = (
        train["max_length"].to_numpy(dtype=np.int64) if "max_length" in train.columns else None
    )
    # Per-row loss weights (a debiased stage's, ``bias.debiased_weights``), else none.
    row_weights = (
        torch.tensor(train["weight"].to_numpy(dtype=np.float32), device=device)
        if "weight" in train.columns
        else None
    )

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(claims) / cfg.batch_size)
    total = cfg.max_steps
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total), total)
    rng = np.random.default_rng(cfg.seed)
    # Characters as the length measure: grouping only needs pairs of similar size.
    lengths = np.array([len(e) + len(c) for e, c in zip(evidence, claims, strict=True)])
    orders = [
        length_grouped_order(lengths, cfg.batch_size, rng)
        if cfg.group_by_length
        else rng.permutation(len(claims))
        for _ in range(math.ceil(total / steps_per_epoch))
    ]

    result = TrainResult(name=name, steps=0, best_step=0, best_dev=-1.0)
    best_state = None
    bad_evals = 0
    last = work_dir / "last.pt"
    if last.exists():
        ckpt = torch.load(last, map_location=device, weights_only=False)
        model.model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        result = TrainResult(**ckpt["result"])
        result.resumed_from = result.steps
        bad_evals = ckpt["bad_evals"]
        if result.out_of_time:  # only the time budget ran out: go on with a new budget
            result.out_of_time = False
            result.stopped_early = bad_evals >= cfg.patience
        best_state = ckpt["best_state"]
        torch.set_rng_state(ckpt["torch_rng"])
        log(f"{name}: resumed at step {result.steps}")

    use_amp = device == "cuda"
    model.train()
    started, seen = time.perf_counter(), 0
    deadline = time.monotonic() + cfg.time_budget_s if cfg.time_budget_s else math.inf
    running: list[float] = []
    step = result.steps
    while step < total and not result.stopped_early:
        epoch, pos = divmod(step, steps_per_epoch)
        idx = orders[epoch][pos * cfg.batch_size : (pos + 1) * cfg.batch_size]
        if row_limits is not None:
            set_max_length(model, row_limits[idx].max())
        batch = encode(model, [evidence[i] for i in idx], [claims[i] for i in idx])
        y = torch.as_tensor(targets[idx], device=device)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=use_amp):
            logits = pair_logits(model, batch)
        rows = None if row_weights is None else row_weights[torch.as_tensor(idx, device=device)]
        loss = pair_loss(logits, y, weights, cfg.label_smoothing, rows)
        if teacher is not None and cfg.distill:
            with torch.no_grad():
                taught = pair_logits(teacher, batch)
            loss = (1 - cfg.distill) * loss + cfg.distill * distill_loss(logits, taught)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        seen += len(idx)
        running.append(float(loss.detach()))
        out_of_time = time.monotonic() >= deadline
        if step % cfg.eval_every == 0 or step == total or out_of_time:
            rate = seen / max(time.perf_counter() - started, 1e-9)
            set_max_length(model, cfg.max_length)
            scores = dev_score(model, dev)
            entry = {
                "step": step,
                "train_loss": float(np.mean(running)),
                "dev": scores,
                "pairs_per_s": round(rate, 1),
            }
            running = []
            result.history.append(entry)
            result.train_pairs_per_s = round(rate, 1)
            if scores["mean"] >= result.best_dev:
                result.best_dev, result.best_step, bad_evals = scores["mean"], step, 0
                current = model.model.state_dict().items()
                best_state = {k: v.detach().cpu().clone() for k, v in current}
            else:
                bad_evals += 1
                result.stopped_early = bad_evals >= cfg.patience
            result.out_of_time = out_of_time
            result.stopped_early = result.stopped_early or out_of_time
            result.steps = step
            ckpt = {
                "model": model.model.state_dict(),  # the HF model's: the shipped format
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "result": asdict(result),
                "bad_evals": bad_evals,
                "best_state": best_state,
                "torch_rng": torch.get_rng_state(),
                "config": asdict(cfg),
            }
            torch.save(ckpt, work_dir / "last.pt.part")
            (work_dir / "last.pt.part").replace(last)
            log(
                f"{name}: step {step}/{total} loss {entry['train_loss']:.4f} "
                f"dev {json.dumps({k: round(v, 4) for k, v in scores.items()})} {rate:.1f} pairs/s"
            )
            started, seen = time.perf_counter(), 0
    result.steps = step
    if best_state is not None:
        model.model.load_state_dict(best_state)
    set_max_length(model, cfg.max_length)
    return model, result
