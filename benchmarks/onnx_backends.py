"""The cross-encoders through torch, ONNX fp32 and ONNX int8: AUROC on the dev (or test) splits
and bare forward-pass pairs/s, on the same pairs, through the serving path (``CrossEncoderExpert``).

    python -m benchmarks.onnx_backends [--pairs 300] [--split dev] [--threads 2] [--json out.json]

int8 is fit to serve when it loses at most ``--max-loss`` (0.005) AUROC on every dev set of
every enabled cross-encoder against torch (the generalist: each verification corpus source);
the result says so (``int8_ok``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

BACKENDS = ("torch", "onnx", "onnx-int8")


def _auroc(y: np.ndarray, p: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(y, p)), 4) if 0 < y.sum() < len(y) else None


def _pairs_per_s(expert, pairs: list[tuple[str, str]]) -> float:
    expert.predict(pairs[:64])  # the first call of a session is slow
    started = time.perf_counter()
    expert.predict(pairs)
    return round(len(pairs) / (time.perf_counter() - started), 1)


def eval_frames(pairs: int, split: str, names: set[str]) -> dict[str, pd.DataFrame]:
    """Per expert spec in ``names`` (model folder names), its ``split`` pairs, at most ``pairs``
    per set: a corpus spec's every verification corpus source, then its own data sets."""
    from experts.training.specs import EXPERT_SPECS
    from experts.training.train_run import frames_for, load_parts, sample_per_set
    from verdictflow.config import get_settings

    seed = get_settings().training.seed
    out = {}
    for name in sorted(names & set(EXPERT_SPECS)):
        parts, _ = load_parts(EXPERT_SPECS[name])
        out[name] = sample_per_set(frames_for(EXPERT_SPECS[name], parts)[split], pairs, seed)
    return out


def run(
    pairs: int, max_loss: float, backends: tuple[str, ...] = BACKENDS, split: str = "dev"
) -> dict:
    """AUROC per backend and data set, pairs/s per backend, and whether int8 may serve."""
    from experts.registry import load_registry
    from experts.verifiers.cross_encoder import CrossEncoderExpert

    specs = [
        s
        for s in load_registry()
        if s.kind == "cross_encoder" and s.weights is not None and s.enabled
    ]
    frames = eval_frames(pairs, split, {Path(s.weights).name for s in specs})
    out: dict = {"split": split, "pairs_per_set": pairs, "max_loss": max_loss, "experts": {}}
    losses = []
    for spec in specs:
        test = frames.get(Path(spec.weights).name)
        if test is None:
            continue
        pair_list = list(zip(test["claim"], test["evidence"], strict=True))
        y = (test["label"] == "supported").to_numpy()
        figures: dict = {"auroc": {}, "pairs_per_s": {}}
        for backend in backends:
            expert = CrossEncoderExpert(spec.weights, name=spec.name, backend=backend)
            p = expert.predict(pair_list)[:, 0]
            figures["auroc"][backend] = {
                ds: _auroc(y[(test.dataset == ds).to_numpy()], p[(test.dataset == ds).to_numpy()])
                for ds in sorted(test.dataset.unique())
            }
            figures["pairs_per_s"][backend] = _pairs_per_s(expert, pair_list[:512])
        for ds, base in figures["auroc"]["torch"].items():
            int8 = figures["auroc"]["onnx-int8"][ds]
            if base is not None and int8 is not None:
                losses.append(base - int8)
        out["experts"][spec.name] = figures
    out["worst_int8_loss"] = round(max(losses), 4) if losses else None
    out["int8_ok"] = bool(losses) and max(losses) <= max_loss
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=300, help="Pairs per data set.")
    parser.add_argument("--split", default="dev", help="dev (the decision) or test.")
    parser.add_argument("--threads", type=int, default=2, help="Threads of torch and ORT.")
    parser.add_argument("--max-loss", type=float, default=0.005)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="torch comes first.")
    args = parser.parse_args()
    import os

    os.environ["VERDICTFLOW_EXPERTS__TORCH_THREADS"] = str(args.threads)
    result = run(args.pairs, args.max_loss, tuple(args.backends.split(",")), args.split)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
