"""The learned combiner with domain experts: the fitted stacker plus one term per domain.

A domain expert is trained after the combiner was fitted, on data nobody else has, so the
combiner cannot be refitted over every expert. Instead each domain expert learns its own
term on its dev pairs, on top of the fitted stacker's log-odds (an offset it does not move):

    logit = stacker(features of the other experts) + routed_d * w_d . [1, p_sup, p_con, p_nei]

A pair not routed to the domain expert gets exactly the stacker's answer, so a domain
expert never changes verdicts outside its domain. The term is saved beside the expert's
weights (``combiner.json``) with the digest of the stacker it was fitted on. A domain expert
without a term fitted on the stacker in force (none, or one fitted on another) steps aside:
the plain mixture decides the pairs routed to it, and the stacker all others.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experts.mixture.stacking import PER_EXPERT, Stacker, _sigmoid, load_stacker, split_rest
from experts.registry import ExpertSpec

logger = logging.getLogger(__name__)

TERM_FILE = "combiner.json"
TERM_FORMAT = 1


def _block(names: Sequence[str], name: str) -> slice:
    at = list(names).index(name) * len(PER_EXPERT)
    return slice(at, at + len(PER_EXPERT))


def base_features(features: np.ndarray, names: Sequence[str], base: Sequence[str]) -> np.ndarray:
    """The columns of ``features`` (laid out for ``names``) that a stacker fitted on ``base``
    reads: each base expert's block, then the cheap features."""
    cheap = features[:, len(names) * len(PER_EXPERT) :]
    return np.concatenate([features[:, _block(names, n)] for n in base] + [cheap], axis=1)


@dataclass(frozen=True)
class DomainTerm:
    """One domain expert's weights on top of a fitted stacker."""

    name: str
    base_digest: str
    weights: np.ndarray  # [4]: routed, p_supported, p_contradicted, p_not_enough_info

    def save(self, folder: Path) -> Path:
        """Write ``combiner.json`` into the expert's folder."""
        payload = {
            "format": TERM_FORMAT,
            "name": self.name,
            "base_digest": self.base_digest,
            "features": [f"{self.name}:{c}" for c in PER_EXPERT],
            "weights": self.weights.tolist(),
        }
        file = Path(folder) / TERM_FILE
        file.write_text(json.dumps(payload, indent=1) + "\n")
        return file

    @classmethod
    def read(cls, folder: Path) -> DomainTerm | None:
        """The term saved in ``folder``, or None; parsed once per version of the file
        (scoring asks on every batch)."""
        file = Path(folder) / TERM_FILE
        return _read_term(file, file.stat().st_mtime_ns) if file.exists() else None


@functools.lru_cache(maxsize=32)
def _read_term(file: Path, mtime_ns: int) -> DomainTerm:
    data = json.loads(file.read_text())
    if data.get("format") != TERM_FORMAT:
        raise ValueError(f"{file}: format {data.get('format')!r} is not supported")
    return DomainTerm(str(data["name"]), str(data["base_digest"]), np.asarray(data["weights"]))


class DomainStacker:
    """A fitted stacker and the domain terms of the experts added after it; ``aside``: the
    domain experts without a term fitted on it (``stacking.stacked`` leaves their pairs to
    the mixture)."""

    def __init__(
        self,
        base: Stacker,
        names: Sequence[str],
        terms: Sequence[DomainTerm],
        aside: Sequence[str] = (),
    ) -> None:
        self.base = base
        self.names = list(names)
        self.terms = list(terms)
        self.aside = list(aside)
        self.version = "+".join([base.version, *(t.name for t in self.terms)])

    def logit(self, features: np.ndarray) -> np.ndarray:
        z = self.base.logit(base_features(features, self.names, self.base.expert_names))
        for term in self.terms:
            z = z + features[:, _block(self.names, term.name)] @ term.weights
        return z

    def p_supported(self, features: np.ndarray) -> np.ndarray:
        return _sigmoid(self.logit(features))

    def combine(self, mixed: np.ndarray, features: np.ndarray) -> np.ndarray:
        """As ``Stacker.combine``."""
        return split_rest(self.p_supported(features), mixed)


def fit_domain_term(
    base: Stacker,
    names: Sequence[str],
    name: str,
    features: np.ndarray,
    supported: np.ndarray,
    l2: float = 1.0,
) -> DomainTerm:
    """Fit ``name``'s term on labelled pairs (features laid out for ``names``), the stacker's
    log-odds held fixed as an offset; L2-penalised logistic loss, balanced classes."""
    from scipy.optimize import minimize

    y = np.asarray(supported, dtype=np.float64)
    if y.all() or not y.any():
        raise ValueError("fitting a domain term needs supported and unsupported pairs")
    offset = base.logit(base_features(features, names, base.expert_names))
    x = features[:, _block(names, name)]
    weight = np.where(y > 0, 0.5 / y.mean(), 0.5 / (1 - y.mean()))

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        p = _sigmoid(offset + x @ w)
        eps = 1e-9
        nll = -(weight * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))).mean()
        grad = x.T @ (weight * (p - y)) / len(y)
        return nll + 0.5 * l2 * w @ w / len(y), grad + l2 * w / len(y)

    found = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B")
    return DomainTerm(name, base.digest, np.asarray(found.x))


def load_combiner(names: Sequence[str], specs: Sequence[ExpertSpec]):
    """The combiner for these experts: a stacker fitted on the others, plus the terms of the
    experts with one (fitted on top of that very stacker); domain experts (``domain_only``)
    without such a term step aside on their pairs. None: the mixture decides."""
    folders = {s.name: s.weights for s in specs if s.weights is not None}
    domain_only = {s.name for s in specs if s.domain_only}
    terms = {n: DomainTerm.read(folders[n]) if n in folders else None for n in names}
    added = [n for n in names if terms[n] is not None or n in domain_only]
    base = load_stacker([n for n in names if n not in added])
    if base is None or not added:
        return base
    fitted = [terms[n] for n in added if terms[n] is not None]
    fitted = [t for t in fitted if t.base_digest == base.digest]
    aside = [n for n in added if n not in {t.name for t in fitted}]
    if aside:
        logger.warning(
            "experts %s have no term fitted on combiner %s: the mixture decides their pairs",
            aside,
            base.digest,
        )
    return DomainStacker(base, names, fitted, aside)
