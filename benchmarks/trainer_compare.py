"""Our training loop against sentence-transformers' CrossEncoderTrainer, on the same budget.

Both start from the same CrossEncoder (MiniLM, ``--layers`` layers, a new 3-class head),
train on the same VitaminC pairs for the same steps, batch size, learning rate, warm-up and
weight decay, and are scored on the same dev pairs. CrossEncoderTrainer needs ``datasets``
and ``accelerate``, which verdictflow does not depend on: put them on PYTHONPATH for this run
(``pip install --target DIR datasets accelerate``).

    PYTHONPATH=DIR python -m benchmarks.trainer_compare --steps 150

With ``--only ours`` and ``--only CrossEncoderTrainer`` started side by side, both sides run
under the same load (one thread each), so their speeds compare.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def _metrics(probs: np.ndarray, labels: list[str]) -> dict:
    from sklearn.metrics import f1_score, roc_auc_score

    from verdictflow.contracts import LABELS

    y = np.array([lab == "supported" for lab in labels])
    pred = np.asarray(LABELS)[probs.argmax(axis=1)]
    return {
        "auroc": round(float(roc_auc_score(y, probs[:, 0])), 4),
        "macro_f1_3class": round(float(f1_score(labels, pred, average="macro")), 4),
    }


def ours(train, dev, args) -> dict:
    """experts.training.loop.train_expert on the budget."""
    from experts.training.loop import TrainConfig, predict_proba, train_expert
    from verdictflow.contracts import LABELS

    cfg = TrainConfig.from_settings(quick=False)
    cfg.max_steps, cfg.batch_size, cfg.learning_rate = args.steps, args.batch, args.lr
    cfg.eval_every, cfg.dev_pairs, cfg.max_length = args.steps, 200, args.max_length
    cfg.frozen_layers, cfg.num_layers, cfg.threads, cfg.patience = 0, args.layers, 1, 99
    cfg.group_by_length, cfg.max_train_pairs = True, len(train)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        model, _ = train_expert("cmp", LABELS, train, dev, cfg, Path(work), log=lambda _: None)
    seconds = time.perf_counter() - started
    probs = predict_proba(model, dev["evidence"], dev["claim"])
    return {"seconds": round(seconds, 1), **_metrics(probs, list(dev["label"]))}


def trainer(train, dev, args) -> dict:
    """sentence_transformers' CrossEncoderTrainer with its CrossEntropyLoss on the budget."""
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import CrossEntropyLoss

    from experts.training.expert_io import build_model, predict_proba
    from verdictflow.contracts import LABELS

    torch.set_num_threads(1)
    torch.manual_seed(13)
    model = build_model(LABELS, args.layers, max_length=args.max_length)
    index = {label: i for i, label in enumerate(LABELS)}
    data = Dataset.from_dict(
        {
            "premise": list(train["evidence"]),
            "hypothesis": list(train["claim"]),
            "label": [index[lab] for lab in train["label"]],
        }
    )
    with tempfile.TemporaryDirectory() as out:
        targs = CrossEncoderTrainingArguments(
            output_dir=out,
            max_steps=args.steps,
            per_device_train_batch_size=args.batch,
            learning_rate=args.lr,
            warmup_ratio=0.08,
            weight_decay=0.01,
            seed=13,
            save_strategy="no",
            eval_strategy="no",
            report_to="none",
            logging_strategy="no",
            use_cpu=True,
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        run = CrossEncoderTrainer(
            model=model, args=targs, train_dataset=data, loss=CrossEntropyLoss(model)
        )
        started = time.perf_counter()
        run.train()
        seconds = time.perf_counter() - started
    probs = predict_proba(model, dev["evidence"], dev["claim"])
    return {"seconds": round(seconds, 1), **_metrics(probs, list(dev["label"]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--dev", type=int, default=600)
    parser.add_argument(
        "--only",
        choices=("ours", "CrossEncoderTrainer"),
        help="run one side (start both sides at once, one thread each, so both share one load)",
    )
    args = parser.parse_args()

    from experts.training import data

    frame = data.load_vitaminc()
    parts = data.splits(frame, "page")
    train = parts["train"].sample(n=args.steps * args.batch, random_state=0)
    train = train.reset_index(drop=True).assign(dataset="vitaminc")
    dev = parts["dev"].sample(n=args.dev, random_state=0).reset_index(drop=True)
    dev = dev.assign(dataset="vitaminc")
    pairs = args.steps * args.batch
    out = {"budget": vars(args), "pairs": pairs}
    for name, run in (("ours", ours), ("CrossEncoderTrainer", trainer)):
        if args.only and name != args.only:
            continue
        result = run(train, dev, args)
        result["train_pairs_per_s"] = round(pairs / result["seconds"], 1)
        out[name] = result
        print(name, json.dumps(result), flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
