"""The learned gate's network and its file (torch: imported only where a trained gate is used)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

GATE_FORMAT = 1


class GateNet(nn.Module):
    """Two-layer router with a noise head (noisy top-k gating, Shazeer et al. 2017)."""

    def __init__(self, in_dim: int, n_experts: int, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(0.1))
        self.route = nn.Linear(hidden, n_experts)
        self.noise = nn.Linear(hidden, n_experts)

    def forward(self, x: torch.Tensor, noisy: bool = False) -> torch.Tensor:
        """Routing logits; with ``noisy`` adds N(0, softplus(noise head)) as in training."""
        h = self.body(x)
        logits = self.route(h)
        if noisy:
            logits = logits + torch.randn_like(logits) * nn.functional.softplus(self.noise(h))
        return logits


def save_gate(net: GateNet, expert_names: list[str], metrics: dict, path: Path) -> str:
    """Write the gate with the next version number; returns that version ("v<N>")."""
    previous = 0
    if path.exists():
        previous = int(torch.load(path, weights_only=True).get("version", 0))
    version = previous + 1
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": GATE_FORMAT,
        "version": version,
        "expert_names": list(expert_names),
        "in_dim": net.body[0].in_features,
        "hidden": net.body[0].out_features,
        "state_dict": net.state_dict(),
        "metrics": {k: float(v) for k, v in metrics.items()},
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return f"v{version}"
