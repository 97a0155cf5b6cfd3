"""The learned combiner (stacking): how supported a pair is, from its routed experts' outputs.

The gate-weighted mixture (``ensemble.mixture``) averages what the routed experts say with
fixed weights; the stacker learns, on labelled dev pairs scored under the same top-k
routing, how much each expert's reading is worth, and when (claim and evidence length,
word overlap, the rule experts' flags: ``features.cheap_features``). It is a logistic
regression on

    [for each expert: routed, routed * p_supported, routed * p_contradicted, routed * p_nei]
    + the cheap features of the pair,

predicting supported vs not. The mixture still says which kind of "not" (contradicted or
not-enough-info): the stacker's 1 - p_supported is split between them in the mixture's
ratio. Experts it was not fitted with make it step aside (the registry prior's mixture
decides), so an added domain expert is never silently ignored; so do the pairs routed to an
expert it never saw routed (``stacked``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from experts.base import Pair
from experts.mixture.features import CHEAP_FEATURES, cheap_features
from verdictflow.config import REPO_ROOT, get_settings
from verdictflow.contracts import SUPPORTED

logger = logging.getLogger(__name__)

STACKER_FORMAT = 1
SHIPPED_STACKER = REPO_ROOT / "models" / "stacker.json"
PER_EXPERT = ("routed", "p_supported", "p_contradicted", "p_not_enough_info")


def pair_cheap_features(pairs: Sequence[Pair]) -> np.ndarray:
    """``CHEAP_FEATURES`` of each pair, float [n, F] (cosine left at 0: no embedding here)."""
    rows = [cheap_features(claim, evidence) for claim, evidence in pairs]
    return np.asarray(rows, dtype=np.float64).reshape(len(pairs), len(CHEAP_FEATURES))


def stack_features(
    mask: np.ndarray, outputs: dict[str, np.ndarray], names: Sequence[str], cheap: np.ndarray
) -> np.ndarray:
    """The stacker's input per pair, float [n, 4E + F] (see the module docstring)."""
    cols = []
    for e, name in enumerate(names):
        routed = mask[:, e].astype(np.float64)
        probs = np.nan_to_num(np.asarray(outputs[name], dtype=np.float64), nan=0.0)
        cols += [routed[:, None], routed[:, None] * probs]
    return np.concatenate([*cols, cheap], axis=1)


@dataclass
class Stacker:
    """A fitted combiner: standardised features -> logistic p_supported."""

    expert_names: list[str]
    coef: np.ndarray
    intercept: float
    mean: np.ndarray
    scale: np.ndarray
    version: str = "stack-v1"
    metrics: dict = field(default_factory=dict)

    def logit(self, features: np.ndarray) -> np.ndarray:
        """The log-odds that each pair is supported."""
        return ((features - self.mean) / self.scale) @ self.coef + self.intercept

    def p_supported(self, features: np.ndarray) -> np.ndarray:
        """Probability that each pair is supported."""
        return _sigmoid(self.logit(features))

    def combine(self, mixed: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Probabilities [n, 3]: the stacker's p_supported; the rest in the mixture's ratio."""
        return split_rest(self.p_supported(features), mixed)

    @property
    def never_routed(self) -> list[str]:
        """Experts it was fitted with but never saw routed (their routed feature was always
        0): it knows nothing of what they say (``stacked``)."""
        at = [e * len(PER_EXPERT) for e in range(len(self.expert_names))]
        return [
            name
            for name, i in zip(self.expert_names, at, strict=True)
            if self.mean[i] == 0.0 and self.scale[i] == 1.0
        ]

    @property
    def digest(self) -> str:
        """A short hash of the fitted weights (what a domain term was fitted on top of)."""
        values = np.concatenate([self.coef, [self.intercept], self.mean, self.scale])
        return hashlib.sha256(np.round(values, 8).tobytes()).hexdigest()[:16]

    def save(self, path: Path) -> Path:
        """Write the stacker as JSON."""
        payload = {
            "format": STACKER_FORMAT,
            "version": self.version,
            "expert_names": self.expert_names,
            "features": [f"{n}:{c}" for n in self.expert_names for c in PER_EXPERT]
            + list(CHEAP_FEATURES),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "metrics": self.metrics,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=1) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, path: Path) -> Stacker:
        """A stacker saved by ``save``."""
        data = json.loads(Path(path).read_text())
        if data.get("format") != STACKER_FORMAT:
            raise ValueError(f"stacker {path}: format {data.get('format')!r} is not supported")
        return cls(
            expert_names=list(data["expert_names"]),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            version=str(data["version"]),
            metrics=dict(data.get("metrics", {})),
        )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def split_rest(p: np.ndarray, mixed: np.ndarray) -> np.ndarray:
    """Probabilities [n, 3]: ``p`` supported, the rest split in the mixture's ratio."""
    rest = mixed[:, SUPPORTED + 1 :]
    total = rest.sum(axis=1, keepdims=True)
    share = np.divide(rest, total, out=np.full_like(rest, 0.5), where=total > 1e-12)
    return np.column_stack([p, (1.0 - p)[:, None] * share])


def stacked(
    combiner, mixed: np.ndarray, features: np.ndarray, mask: np.ndarray, names: Sequence[str]
) -> np.ndarray:
    """The combiner's probabilities [n, 3], except on pairs routed to an expert it never saw
    routed (``Stacker.never_routed``) or a domain expert without a term on it (``aside``): it
    knows nothing of what that expert says, so there the mixture's (``mixed``) stay
    (measured: benchmarks/results/long_sources.md)."""
    base = getattr(combiner, "base", combiner)  # a stacker with domain terms on top
    aside = set(base.never_routed) | set(getattr(combiner, "aside", ()))
    unknown = [e for e, name in enumerate(names) if name in aside]
    aside = mask[:, unknown].any(axis=1)
    return np.where(aside[:, None], mixed, combiner.combine(mixed, features))


def fit_stacker(
    features: np.ndarray, supported: np.ndarray, expert_names: Sequence[str], c: float = 1.0
) -> Stacker:
    """Fit the logistic combiner on labelled pairs (``supported``: bool per pair)."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(supported, dtype=bool)
    if y.all() or not y.any():
        raise ValueError("fitting the combiner needs supported and unsupported pairs")
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    model.fit((features - mean) / scale, y)
    return Stacker(list(expert_names), model.coef_[0], float(model.intercept_[0]), mean, scale)


@functools.lru_cache(maxsize=8)
def _read_cached(file: Path, mtime_ns: int, size: int) -> Stacker:
    """``Stacker.read``, once per version of the file (scoring asks on every batch)."""
    return Stacker.read(file)


def stacker_file(path: str | Path | None = None) -> Path:
    """Where a fitted stacker is saved: ``path``, the setting, or HOME/models/stacker.json."""
    settings = get_settings()
    return Path(path or settings.experts.stacker_path or settings.models_dir / "stacker.json")


def stacker_candidates(path: str | Path | None = None) -> list[Path]:
    """The stacker files ``load_stacker`` tries, in order: ``path``, the setting or HOME's,
    then (without either) the shipped one."""
    candidates = [stacker_file(path)]
    if path is None and get_settings().experts.stacker_path is None:
        candidates.append(SHIPPED_STACKER)
    return candidates


def read_stacker(file: Path) -> Stacker:
    """The stacker saved at ``file``, read once per version of the file."""
    stat = file.stat()
    return _read_cached(file, stat.st_mtime_ns, stat.st_size)


def load_stacker(expert_names: Sequence[str], path: str | Path | None = None) -> Stacker | None:
    """The stacker fitted for exactly these experts (HOME's first, then the shipped one), or
    None: then the mixture's fixed weights decide. Off with ``experts.stacking = false``."""
    if not get_settings().experts.stacking:
        return None
    for file in stacker_candidates(path):
        if not file.exists():
            continue
        stacker = read_stacker(file)
        if stacker.expert_names == list(expert_names):
            return stacker
        logger.warning(
            "combiner %s was fitted for experts %s, not %s: the mixture decides",
            file,
            stacker.expert_names,
            list(expert_names),
        )
    return None
