"""The gate: weights over the experts for each (claim, evidence) pair.

Two gates share one interface (``expert_names`` and ``probs(pairs, domains) -> [n, E]``):

- ``PriorGate``: the registry's knowledge, used until a trained gate exists. Each expert's
  logit is ``log(prior) + boost * (keyword/pattern hits in the claim + domain match)``.
- ``LearnedGate``: a small torch network (``experts.mixture.gate_net``, imported only when a
  trained gate is in force) over the claim and evidence embeddings and cheap
  features (``experts.mixture.features``), trained by
  ``experts.training.gate_training.train_gate`` and saved with a version at
  ``settings.experts.gate_path`` (default HOME/models/gate.pt).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from experts.base import Pair
from experts.registry import ExpertSpec
from verdictflow.config import REPO_ROOT, get_settings

if TYPE_CHECKING:
    from experts.mixture.gate_net import GateNet

logger = logging.getLogger(__name__)
# Used when HOME has no gate. None ships: the learned gate misses changed numbers on product
# specs that the prior catches (README, Quality); models/gate-learned.pt is opt-in.
SHIPPED_GATE = REPO_ROOT / "models" / "gate.pt"
# A pair's domain for routing: one, several (a claim type and a trained domain), or None.
Domains = str | tuple[str, ...] | None


class Gate(Protocol):
    """What routing needs from a gate."""

    expert_names: list[str]
    version: str

    def probs(self, pairs: Sequence[Pair], domains: Sequence[Domains] | None = None):
        """Softmax weights over ``expert_names``, float array [n, E]; ``domains``: per pair,
        its domain, several, or None."""
        ...


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class PriorGate:
    """Keyword and domain prior from the registry."""

    def __init__(self, specs: Sequence[ExpertSpec], boost: float | None = None) -> None:
        self.specs = list(specs)
        self.expert_names = [s.name for s in self.specs]
        self.boost = get_settings().experts.gate_prior_boost if boost is None else boost
        self.version = "prior"

    def logits(self, claim: str, domain: str | tuple[str, ...] | None = None) -> np.ndarray:
        """Prior logit of each expert for one claim in ``domain`` (one, several or None)."""
        domains = set((domain,) if isinstance(domain, str) else domain or ())
        logits = []
        for s in self.specs:
            matched = bool(domains & set(s.domains))
            if s.domain_only and not matched:
                logits.append(-np.inf)  # a domain expert is never asked outside its domain
                continue
            logits.append(np.log(s.prior) + self.boost * (s.keyword_hits(claim) + matched))
        return np.array(logits)

    def probs(self, pairs: Sequence[Pair], domains: Sequence[Domains] | None = None):
        if not pairs:
            return np.zeros((0, len(self.specs)))
        domains = domains or [None] * len(pairs)
        cache: dict[tuple[str, Domains], np.ndarray] = {}
        rows = []
        for (claim, _), domain in zip(pairs, domains, strict=True):
            key = (claim, domain)
            if key not in cache:
                cache[key] = self.logits(claim, domain)
            rows.append(cache[key])
        return _softmax(np.stack(rows))


class LearnedGate:
    """A trained ``GateNet`` restricted to the experts available now."""

    def __init__(
        self,
        net: GateNet,
        expert_names: list[str],
        version: str,
        prior: PriorGate | None = None,
        prior_weight: float = 0.0,
    ) -> None:
        self.net = net.eval()
        self.trained_names = list(expert_names)
        self.expert_names = list(expert_names)
        self.version = version
        self.prior = prior
        self.prior_weight = prior_weight

    def restrict(self, available: Sequence[str]) -> LearnedGate:
        """Keep only the experts in ``available`` (renormalising over them)."""
        self.expert_names = [n for n in self.trained_names if n in set(available)]
        return self

    def probs(self, pairs: Sequence[Pair], domains: Sequence[Domains] | None = None):
        if not pairs:
            return np.zeros((0, len(self.expert_names)))
        import torch

        from experts.mixture.features import pair_features

        x = torch.from_numpy(pair_features(pairs))
        with torch.no_grad():
            logits = self.net(x).numpy().astype(np.float64)
        cols = [self.trained_names.index(n) for n in self.expert_names]
        logits = logits[:, cols]
        if self.prior is not None and self.prior_weight:
            # The registry's keyword / pattern / domain knowledge, added to the learned logits:
            # it holds on data unlike the gate's training data (numbers in product specs).
            prior = np.log(self.prior.probs(pairs, domains))
            at = [self.prior.expert_names.index(n) for n in self.expert_names]
            logits = logits + self.prior_weight * prior[:, at]
        return _softmax(logits)


def gate_file(path: str | Path | None = None) -> Path:
    """Where the trained gate lives: ``path``, the setting, or HOME/models/gate.pt."""
    settings = get_settings()
    return Path(path or settings.experts.gate_path or settings.models_dir / "gate.pt")


def gate_in_force(path: str | Path | None = None) -> Path | None:
    """The trained gate file ``load_gate`` reads: ``path``, the setting, HOME's, else the
    shipped one; None when there is none (the prior gate routes)."""
    file = gate_file(path)
    if not file.exists() and path is None and get_settings().experts.gate_path is None:
        file = SHIPPED_GATE
    return file if file.exists() else None


def load_gate(specs: Sequence[ExpertSpec], path: str | Path | None = None) -> Gate:
    """The trained gate when one exists and knows enough of ``specs``; else the prior gate.

    Without ``path`` or the setting, a gate trained in HOME wins over the shipped one.
    """
    file = gate_in_force(path)
    names = [s.name for s in specs]
    if file is not None:
        import torch

        from experts.mixture.gate_net import GateNet

        payload = torch.load(file, weights_only=True)
        known = [n for n in payload["expert_names"] if n in names]
        unknown = sorted(set(names) - set(payload["expert_names"]))
        k = get_settings().experts.gate_top_k
        if len(known) >= min(k, len(names)) and not unknown:
            net = GateNet(payload["in_dim"], len(payload["expert_names"]), payload["hidden"])
            net.load_state_dict(payload["state_dict"])
            weight = get_settings().experts.gate_prior_weight
            version = f"v{payload['version']}" + (f"+prior{weight:g}" if weight else "")
            gate = LearnedGate(net, payload["expert_names"], version, PriorGate(specs), weight)
            return gate.restrict(names)
        logger.warning(
            "trained gate %s does not cover experts %s: using the registry prior", file, unknown
        )
    return PriorGate(specs)
