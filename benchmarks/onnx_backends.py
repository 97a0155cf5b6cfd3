"""The cross-encoders through torch, ONNX fp32 and ONNX int8: AUROC on the test splits and
bare forward-pass pairs/s, on the same pairs, through the serving path (``CrossEncoderExpert``).

    python -m benchmarks.onnx_backends [--pairs 300] [--threads 2] [--json out.json]

int8 is fit to serve when it loses at most ``--max-loss`` (0.005) AUROC on every test split of
every cross-encoder against torch; the result says so (``int8_ok``).
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


def test_frames(pairs: int) -> dict[str, pd.DataFrame]:
    """Per shipped cross-encoder (by model folder name), its test pairs per data set."""
    from experts.training import data as vdata
    from experts.training.specs import EXPERT_SPECS
    from experts.training.train_run import frames_for, sample_eval
    from verdictflow.config import get_settings

    seed = get_settings().training.seed
    names = sorted({ds for spec in EXPERT_SPECS.values() for ds in spec.datasets})
    loaded = vdata.load_datasets(names)
    parts = {ds: vdata.splits(df, col) for ds, (df, col) in loaded.items()}
    out = {}
    for name, spec in EXPERT_SPECS.items():
        test = frames_for(spec, parts)["test"]
        out[name] = pd.concat(
            [sample_eval(test[test.dataset == ds], pairs, seed) for ds in spec.datasets],
            ignore_index=True,
        )
    return out


def run(pairs: int, max_loss: float, backends: tuple[str, ...] = BACKENDS) -> dict:
    """AUROC per backend and data set, pairs/s per backend, and whether int8 may serve."""
    from experts.registry import load_registry
    from experts.verifiers.cross_encoder import CrossEncoderExpert

    frames = test_frames(pairs)
    out: dict = {"pairs_per_set": pairs, "max_loss": max_loss, "experts": {}}
    losses = []
    for spec in load_registry():
        if spec.kind != "cross_encoder" or spec.weights is None:
            continue
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
    parser.add_argument("--pairs", type=int, default=300, help="Test pairs per data set.")
    parser.add_argument("--threads", type=int, default=2, help="Threads of torch and ORT.")
    parser.add_argument("--max-loss", type=float, default=0.005)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="torch comes first.")
    args = parser.parse_args()
    import os

    os.environ["VERDICTFLOW_EXPERTS__TORCH_THREADS"] = str(args.threads)
    result = run(args.pairs, args.max_loss, tuple(args.backends.split(",")))
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
