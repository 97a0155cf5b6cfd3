"""The expert registry: which experts exist, read from YAML (the shipped ``registry.yaml`` or
``settings.experts.registry``), and the per-process cache that builds each expert once."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from experts.base import Expert
from verdictflow.config import REPO_ROOT, get_settings

logger = logging.getLogger(__name__)
_warned: set[tuple[str, str]] = set()

SHIPPED_REGISTRY = Path(__file__).with_name("registry.yaml")
Kind = Literal["cross_encoder", "numbers", "entities", "negation", "similarity", "alignment"]


class ExpertSpec(BaseModel):
    """One registry entry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Kind
    weights: Path | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    domains: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    prior: float = Field(1.0, gt=0)
    enabled: bool = True
    # False: the gate never routes pairs to it (no say in a verdict's probabilities); a span
    # reader (``alignment``) still reads the spans of every verdict.
    routed: bool = True
    # True: the gate considers it only for pairs of one of its domains (a domain expert).
    domain_only: bool = False
    options: dict[str, Any] = Field(default_factory=dict)

    @property
    def max_length(self) -> int | None:
        """Token limit of a pair for a cross-encoder, as ``CrossEncoderExpert`` sets it: its
        ``max_length`` option, else its ``verdictflow.json``, else the setting; None else."""
        if self.kind != "cross_encoder" or self.weights is None:
            return None
        meta_file = Path(self.weights) / "verdictflow.json"
        meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
        limit = self.options.get("max_length") or meta.get("max_length")
        return int(limit or get_settings().experts.max_length)

    def keyword_hits(self, text: str) -> int:
        """How many of the keywords and patterns occur in ``text`` (the prior gate's signal)."""
        return sum(1 for rx in _compiled(self.keywords, self.patterns) if rx.search(text))


@functools.lru_cache(maxsize=256)
def _compiled(keywords: tuple[str, ...], patterns: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    words = [re.compile(r"(?<!\w)" + re.escape(k) + r"(?!\w)", re.IGNORECASE) for k in keywords]
    return tuple(words + [re.compile(p) for p in patterns])


def registry_path(path: str | Path | None = None) -> Path:
    """The registry file in force: ``path``, else the setting, else the shipped one."""
    return Path(path or get_settings().experts.registry or SHIPPED_REGISTRY).resolve()


def resolve_weights(weights: Path, registry_file: Path) -> Path | None:
    """Find a weights folder next to the registry, in the repo root, or under HOME/models."""
    if weights.is_absolute():
        return weights if weights.exists() else None
    for base in (registry_file.parent, REPO_ROOT, get_settings().models_dir):
        if (base / weights).exists():
            return (base / weights).resolve()
    return None


def load_registry(
    path: str | Path | None = None, include_unrouted: bool = False
) -> list[ExpertSpec]:
    """The enabled, available experts of the registry, in file order: those the gate routes
    to, and with ``include_unrouted`` also those it does not (``routed: false``).

    Raises:
        ValueError: the file is malformed (naming the entry and the rule it breaks).
    """
    file = registry_path(path)
    specs: list[ExpertSpec] = []
    for spec, source in _entries(file):
        if not spec.enabled or not (spec.routed or include_unrouted):
            continue
        if spec.kind == "cross_encoder":
            found = resolve_weights(spec.weights, source) if spec.weights else None
            if found is None:
                if (str(source), spec.name) not in _warned:
                    _warned.add((str(source), spec.name))
                    logger.warning(
                        "expert %r skipped: weights folder %s does not exist",
                        spec.name,
                        spec.weights,
                    )
                continue
            spec = spec.model_copy(update={"weights": found})
        specs.append(spec)
    return specs


def domain_registry_file() -> Path:
    """Where ``experts train-domain`` registers the domain experts it trains:
    HOME/models/domains.yaml, read after the registry in force (no hand edits of it)."""
    return get_settings().models_dir / "domains.yaml"


def _entries(file: Path) -> list[tuple[ExpertSpec, Path]]:
    """Every entry of ``file``, then of the domain registry, with the file it came from.

    Raises:
        ValueError: a name is in both files.
    """
    out = []
    domains = domain_registry_file().resolve()
    for source in (file, domains) if domains != file else (file,):
        if source is domains and not source.exists():
            continue
        stat = source.stat()
        out += [(spec, source) for spec in _parse(source, stat.st_mtime_ns, stat.st_size)]
    names = [spec.name for spec, _ in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"expert registry {file} and {domains} both name {twice}")
    return out


def register_expert(entry: dict[str, Any]) -> Path:
    """Add (or replace, by name) an entry of the domain registry; returns its file.

    Raises:
        ValueError: the entry breaks a rule of ``ExpertSpec``, or its name is taken by the
            registry in force.
    """
    spec = ExpertSpec.model_validate(entry)
    if any(
        s.name == spec.name
        for s, src in _entries(registry_path())
        if src != domain_registry_file().resolve()
    ):
        raise ValueError(f"expert name {spec.name!r} is taken by {registry_path()}")
    file = domain_registry_file()
    raw = yaml.safe_load(file.read_text()) if file.exists() else None
    entries = [e for e in (raw or {}).get("experts", []) if e.get("name") != spec.name]
    entries.append(spec.model_dump(mode="json", exclude_defaults=True) | {"kind": spec.kind})
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    header = (
        "# Domain experts, written by `verdictflow experts train-domain`; not edited by hand.\n"
    )
    tmp.write_text(header + yaml.safe_dump({"experts": entries}, sort_keys=False))
    tmp.replace(file)
    return file


@functools.lru_cache(maxsize=16)
def _parse(file: Path, mtime_ns: int, size: int) -> tuple[ExpertSpec, ...]:
    """Every entry of a registry file, validated; parsed once per version of the file (the
    YAML parse costs ~10 ms, a tenth of a one-item request)."""
    raw = yaml.safe_load(file.read_text()) or {}
    entries = raw.get("experts") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ValueError(
            f"expert registry {file}: top level must be a mapping with an 'experts' list"
        )
    specs: list[ExpertSpec] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        try:
            spec = ExpertSpec.model_validate(entry)
        except Exception as exc:
            raise ValueError(f"expert registry {file}: entry {i} is invalid: {exc}") from exc
        if spec.name in seen:
            raise ValueError(f"expert registry {file}: entry {i}: duplicate name {spec.name!r}")
        seen.add(spec.name)
        specs.append(spec)
    return tuple(specs)


def build_expert(spec: ExpertSpec) -> Expert:
    """Construct the expert an entry describes (loads model weights where it has them)."""
    domains = tuple(spec.domains)
    if spec.kind == "alignment":
        from experts.verifiers.alignment import AlignmentExpert

        return AlignmentExpert(name=spec.name, domains=domains, **spec.options)
    if spec.kind == "similarity":
        from experts.verifiers.similarity import SimilarityExpert

        return SimilarityExpert(name=spec.name, domains=domains, **spec.options)
    if spec.kind == "numbers":
        from experts.verifiers.numbers import NumbersExpert

        return NumbersExpert(name=spec.name, domains=domains, **spec.options)
    if spec.kind == "entities":
        from experts.verifiers.entities import EntitiesExpert

        return EntitiesExpert(name=spec.name, domains=domains, **spec.options)
    if spec.kind == "negation":
        from experts.verifiers.negation import NegationExpert

        return NegationExpert(name=spec.name, domains=domains, **spec.options)
    from experts.verifiers.cross_encoder import CrossEncoderExpert

    return CrossEncoderExpert(
        spec.weights, name=spec.name, domains=domains, device=spec.device, **spec.options
    )


# Files up to this size are known by their content; larger ones (weights) by size and mtime.
CONTENT_BYTES = 2**20


def file_digest(path: Path | None) -> str | None:
    """A file's identity: the sha256 of a small file's content, else its size and mtime
    (weights are large); None when there is no such file. Read once per version."""
    if path is None:
        return None
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return _file_digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=512)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    if size > CONTENT_BYTES:
        return f"size={size},mtime_ns={mtime_ns}"
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def folder_digest(folder: Path) -> str:
    """A weights folder's identity: that of each file in it (``file_digest``), so new weights,
    a new routing profile or a new combiner term change it."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    listing = {p.name: file_digest(p) for p in files}
    return hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()[:16]


_BUILDING = threading.Lock()


def cached_expert(name: str, registry: str | None = None) -> Expert:
    """The expert ``name`` of a registry, built once per process and version of its weights
    (workers call this; an expert retrained in place is built again).

    Worker threads of one process ask for experts at once: one builds while the others wait
    (transformers' lazy imports are not safe to race, and a model is loaded only once)."""
    with _BUILDING:
        spec = next((s for s in load_registry(registry, True) if s.name == name), None)
        version = folder_digest(spec.weights) if spec and spec.weights else ""
        return _cached_expert(name, registry, version)


@functools.lru_cache(maxsize=64)
def _cached_expert(name: str, registry: str | None = None, version: str = "") -> Expert:
    for spec in load_registry(registry, include_unrouted=True):
        if spec.name == name:
            return build_expert(spec)
    raise KeyError(
        f"expert {name!r} is not an enabled, available expert of {registry_path(registry)}"
    )


def clear_expert_cache() -> None:
    """Forget every expert built in this process (the next ``cached_expert`` builds anew)."""
    with _BUILDING:
        _cached_expert.cache_clear()


def load_experts(
    names: list[str] | None = None, registry: str | Path | None = None
) -> dict[str, Expert]:
    """Every enabled, available expert of the registry (or only ``names``), built once."""
    specs = load_registry(registry)
    known = {s.name for s in specs}
    missing = set(names or ()) - known
    if missing:
        raise KeyError(f"unknown or unavailable experts: {sorted(missing)}")
    reg = str(registry_path(registry))
    return {s.name: cached_expert(s.name, reg) for s in specs if names is None or s.name in names}


def reading_window(spec: ExpertSpec) -> int | None:
    """Evidence tokens the expert reads whole beside a claim: a cross-encoder's max length less
    ``experts.window_claim_tokens``; None for an expert without a token limit."""
    limit = spec.max_length
    return None if limit is None else max(16, limit - get_settings().experts.window_claim_tokens)


def window_tokens(path: str | Path | None = None) -> int:
    """Evidence tokens of one verification window: ``settings.experts.window_tokens``, else
    the largest reading window of the registry's cross-encoders (``reading_window``): the
    expert with the longest limit reads each window whole, and every other cross-encoder
    reads it in windows of its own (``experts.mixture.scoring``). Domain experts do not count:
    they never read an item's own context, so they do not change its windows."""
    settings = get_settings().experts
    if settings.window_tokens:
        return settings.window_tokens
    specs = load_registry(path)
    readers = [s for s in specs if not s.domain_only] or specs
    windows = [w for w in map(reading_window, readers) if w]
    return max(windows) if windows else max(16, settings.max_length - settings.window_claim_tokens)
