"""Training the gate: minimise the loss of the gate-weighted mixture on labelled pairs.

Every expert scores every labelled pair once (dense, up front); the gate then learns which
experts to trust for which pair: the loss is the negative log-likelihood of the true label
under the noisy top-k mixture, plus the Switch load-balancing term so that routing does not
collapse onto one expert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from experts.base import Expert, Pair
from experts.mixture.features import pair_features
from experts.mixture.gate import gate_file
from experts.mixture.gate_net import GateNet, save_gate
from experts.mixture.routing import balance_score, load_balancing_loss, utilisation
from verdictflow.config import get_settings
from verdictflow.contracts import label_index


@dataclass
class GateTrainResult:
    """What one training run did."""

    version: str
    path: str
    expert_names: list[str]
    losses: list[float] = field(default_factory=list)
    initial_loss: float = 0.0
    final_loss: float = 0.0
    uniform_loss: float = 0.0
    utilisation: dict[str, float] = field(default_factory=dict)
    balance: float = 0.0


NOT_SUPPORTED = 3  # a two-class label: contradicted or not_enough_info, either is right


def label_indices(labels: Sequence[str | int], not_supported: int = 2) -> np.ndarray:
    """Labels as column indices of ``LABELS``; "not_supported" becomes ``not_supported``
    (2, not_enough_info, for 3-class metrics; ``NOT_SUPPORTED`` for the gate's loss)."""
    return np.array(
        [
            not_supported if label == "not_supported" else label_index(label, f"labelled pair {i}")
            for i, label in enumerate(labels)
        ],
        dtype=np.int64,
    )


def expert_outputs(experts: dict[str, Expert], pairs: Sequence[Pair]) -> np.ndarray:
    """Every expert's probabilities on every pair, float [n, E, 3]."""
    return np.stack([np.asarray(e.predict(pairs)) for e in experts.values()], axis=1)


def mixture_loss(
    logits: torch.Tensor,
    outputs: torch.Tensor,
    labels: torch.Tensor,
    k: int,
    balance_coef: float,
    noisy_logits: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, mixture NLL, balance loss) of top-k routing by ``noisy_logits`` (or logits)."""
    route = logits if noisy_logits is None else noisy_logits
    top = torch.topk(route, k, dim=1).indices
    mask = torch.zeros_like(route, dtype=torch.bool).scatter_(1, top, True)
    gates = torch.softmax(route.masked_fill(~mask, float("-inf")), dim=1)
    mixed = (gates.unsqueeze(-1) * outputs).sum(1)
    # Column 3: "not_supported" (two-class data), right when the mixture says anything but
    # supported.
    mixed = torch.cat([mixed, 1.0 - mixed[:, :1]], dim=1).clamp_min(1e-6)
    nll = -torch.log(mixed.gather(1, labels[:, None]).squeeze(1)).mean()
    balance = load_balancing_loss(torch.softmax(logits, dim=1), mask)
    return nll + balance_coef * balance, nll, balance


def train_gate(
    pairs: Sequence[Pair],
    labels: Sequence[str | int],
    experts: dict[str, Expert] | None = None,
    *,
    outputs: np.ndarray | None = None,
    k: int | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    balance_coef: float | None = None,
    seed: int = 0,
    path: str | Path | None = None,
) -> GateTrainResult:
    """Train and save a gate over ``experts`` (default: every available registry expert).

    Args:
        pairs: labelled (claim, evidence) pairs.
        labels: their labels (names from ``LABELS`` or "not_supported", or column indices).
        experts: name -> expert; None loads the registry's.
        outputs: precomputed ``expert_outputs`` [n, E, 3] (skips scoring).
        k, epochs, lr, balance_coef: default to ``settings.experts``.
        seed: torch seed.
        path: where to save; default ``settings.experts.gate_path`` or HOME/models/gate.pt.
    """
    from experts.registry import load_experts

    settings = get_settings().experts
    torch.manual_seed(seed)
    torch.set_num_threads(get_settings().compute_threads())
    experts = experts if experts is not None else load_experts()
    names = list(experts)
    if not pairs:
        raise ValueError("train_gate needs at least one labelled pair")
    y = torch.from_numpy(label_indices(labels, not_supported=NOT_SUPPORTED))
    out = torch.from_numpy(
        np.asarray(outputs if outputs is not None else expert_outputs(experts, pairs), np.float32)
    )
    x = torch.from_numpy(pair_features(pairs))
    k = min(k or settings.gate_top_k, len(names))
    coef = settings.gate_balance_coef if balance_coef is None else balance_coef
    net = GateNet(x.shape[1], len(names), settings.gate_hidden)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr or settings.gate_lr, weight_decay=1e-4)

    def evaluate() -> float:
        net.eval()
        with torch.no_grad():
            return float(mixture_loss(net(x), out, y, k, coef)[0])

    uniform = float(mixture_loss(torch.zeros(len(pairs), len(names)), out, y, k, coef)[0])
    initial = evaluate()
    losses = []
    for _ in range(epochs or settings.gate_epochs):
        net.train()
        optimiser.zero_grad()
        logits = net(x)
        noisy = net(x, noisy=True) if settings.gate_noise else None
        loss, _, _ = mixture_loss(logits, out, y, k, coef, noisy)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    final = evaluate()
    with torch.no_grad():
        top = torch.topk(net.eval()(x), k, dim=1).indices
        mask = torch.zeros(len(pairs), len(names), dtype=torch.bool).scatter_(1, top, True)
    util = utilisation(mask.numpy())
    metrics = {"initial_loss": initial, "final_loss": final, "balance": balance_score(util)}
    file = gate_file(path)
    version = save_gate(net, names, metrics, file)
    return GateTrainResult(
        version=version,
        path=str(file),
        expert_names=names,
        losses=losses,
        initial_loss=initial,
        final_loss=final,
        uniform_loss=uniform,
        utilisation=dict(zip(names, map(float, util), strict=True)),
        balance=balance_score(util),
    )


def labelled_pairs(
    source: str | Path | None = None,
    split: str = "dev",
    max_pairs: int | None = None,
    seed: int = 0,
) -> list[dict]:
    """Labelled rows ``{"claim", "evidence", "label"}`` to train the gate on.

    Args:
        source: a JSONL/CSV file with claim, evidence, label columns; or a comma-separated
            list of ``experts.training.data`` data set names (None: all of them), of which ``split``
            is used (the training engineer's dev split by default), plus number-changed
            negatives (``settings.experts.gate_number_negatives``) so the gate learns when the
            numbers expert matters.
        split: train | dev | test, for data set names.
        max_pairs: sample at most this many rows (stratified by data set), seeded.
        seed: sampling seed.
    """
    import pandas as pd

    path = Path(source) if source else None
    if path is not None and path.suffix in (".jsonl", ".json", ".csv"):
        frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_json(path, lines=True)
        missing = {"claim", "evidence", "label"} - set(frame.columns)
        if missing:
            raise ValueError(f"labelled pairs {path}: missing columns {sorted(missing)}")
    else:
        from experts.training import augment, data

        names = [n.strip() for n in str(source).split(",")] if source else list(data.DATASETS)
        parts = []
        for name, (df, group_col) in data.load_datasets(names).items():
            part = data.splits(df, group_col)[split]
            if max_pairs:
                per_set = max(1, max_pairs // len(names))
                part = part.sample(n=min(per_set, len(part)), random_state=seed)
            share = get_settings().experts.gate_number_negatives
            part = pd.concat([part, augment.changed_numbers(part, share, seed)], ignore_index=True)
            parts.append(part.assign(dataset=name))
        frame = pd.concat(parts, ignore_index=True)
    if max_pairs and len(frame) > max_pairs:
        frame = frame.sample(n=max_pairs, random_state=seed)
    columns = ["claim", "evidence", "label"] + (["dataset"] if "dataset" in frame else [])
    rows = frame[columns].astype(str).to_dict(orient="records")
    label_indices([r["label"] for r in rows])  # fail early, naming the bad row
    return rows
