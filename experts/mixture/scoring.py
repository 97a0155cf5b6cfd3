"""The scoring stage as a library object: gate -> expert batches -> combine.

``Scorer.score`` routes every (claim, evidence chunk) pair through the gate to its top-k
experts, has each cross-encoder read a pair's evidence in windows of its own max length (its
reading of the pair: that of the deciding window), cuts each expert's distinct pairs (a
repeated (claim, window) is scored once) into length-sorted batches, hands the batches to a
``BatchRunner`` and combines the outputs into one ``ClaimScore`` per claim. The runner is the
seam: ``InProcessRunner`` (the default) scores here; the Prefect layer passes one that
submits each batch as a task to Dask workers (``tasks/scoring.py``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from experts.base import check_probabilities
from experts.mixture.domain_terms import load_combiner
from experts.mixture.domains import domain_profiles, pair_domains
from experts.mixture.ensemble import best_chunk, combine, mixture
from experts.mixture.gate import Domains, Gate, load_gate
from experts.mixture.routing import Routing, balance_score, top_k_route, utilisation
from experts.mixture.stacking import pair_cheap_features, stack_features, stacked
from experts.registry import (
    ExpertSpec,
    cached_expert,
    load_registry,
    reading_window,
    registry_path,
)
from experts.verifiers.entities import same_subject, subject_words
from experts.verifiers.text import content_tokens, coverage
from retrieval.chunking import chunk_spans
from retrieval.embedding import embed_texts
from verdictflow.config import get_settings
from verdictflow.contracts import Claim, ClaimScore, Evidence


@dataclass(frozen=True)
class Batch:
    """One expert's share of the pairs: what a runner scores in one call."""

    expert: str
    kind: str
    pairs: list[tuple[str, str]]
    registry: str


class BatchRunner(Protocol):
    """Scores batches; returns each batch's probabilities [n, 3], in order."""

    def slots(self) -> int:
        """Task slots to keep busy (0: in this process, one batch at a time)."""
        ...

    def gpus(self) -> int:
        """Workers with a GPU that cross-encoder batches are sent to."""
        ...

    def run(self, batches: Sequence[Batch]) -> list[np.ndarray]:
        """Score every batch."""
        ...


def score_batch(batch: Batch) -> np.ndarray:
    """One expert's probabilities on a batch, from the per-process model cache."""
    model = cached_expert(batch.expert, batch.registry)
    return check_probabilities(model.predict(batch.pairs), len(batch.pairs), batch.expert)


class InProcessRunner:
    """Scores each batch in this process."""

    def slots(self) -> int:
        return 0

    def gpus(self) -> int:
        return 0

    def run(self, batches: Sequence[Batch]) -> list[np.ndarray]:
        return [score_batch(b) for b in batches]


@dataclass
class ScoringResult:
    """One ``ClaimScore`` per claim, and how the gate routed the pairs."""

    scores: list[ClaimScore]
    report: dict = field(default_factory=dict)


def _domain(claim: Claim, claim_domains: dict[str, str] | None) -> str | None:
    """The claim's domain: given, else "qa" for an answer to a question, else "long_source"
    for a claim checked against a long context, else unknown."""
    if claim_domains and claim.claim_id in claim_domains:
        return claim_domains[claim.claim_id]
    if claim.question:
        return "qa"
    if claim.context and len(claim.context) > get_settings().experts.long_source_chars:
        return "long_source"
    return None


def length_batches(
    indices: np.ndarray, pairs: Sequence[tuple[str, str]], size: int, slots: int
) -> list[np.ndarray]:
    """Split routed pair indices into batches of similar length (less padding): at most
    ``size`` pairs, and enough batches (two per task slot) to keep every slot busy."""
    order = sorted(indices.tolist(), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    if slots:
        size = max(1, min(size, -(-len(order) // (2 * slots))))
    return [np.array(order[s : s + size]) for s in range(0, len(order), size)]


def read_in_windows(
    pairs: Sequence[tuple[str, str]],
    rows: np.ndarray,
    window: int | None,
    titles: Sequence[str] | None = None,
) -> tuple[list[tuple[str, str]], np.ndarray]:
    """What an expert that reads ``window`` evidence tokens at once sees of the pairs ``rows``:
    each pair's evidence in windows of that size sharing ``experts.window_overlap`` (evidence
    that fits stays whole; None: every pair whole), each window after its document's title
    (``titles``, one per pair, as ``Evidence.read_text`` puts it), and the pair row of each
    window."""
    overlap = int((window or 0) * get_settings().experts.window_overlap)
    cut: dict[str, list[str]] = {}
    read: list[tuple[str, str]] = []
    owner: list[int] = []
    for i in rows:
        claim, text = pairs[i]
        if text not in cut:
            spans = chunk_spans(text, window, overlap) if window is not None else []
            cut[text] = [text[s:e] for s, e in spans] if len(spans) > 1 else [text]
        title = titles[i] if titles is not None else ""
        read += [(claim, Evidence.titled(title, piece)) for piece in cut[text]]
        owner += [int(i)] * len(cut[text])
    return read, np.asarray(owner, dtype=int)


def distinct(pairs: Sequence[tuple[str, str]]) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The pairs without repeats, in first-seen order, and where each pair is among them: an
    expert scores a (claim, window) pair once however many claims or items bring it."""
    index: dict[tuple[str, str], int] = {}
    where = np.fromiter((index.setdefault(p, len(index)) for p in pairs), int, len(pairs))
    return list(index), where


def best_reading(readings: np.ndarray, owner: np.ndarray, n_pairs: int) -> np.ndarray:
    """Each pair's reading [n_pairs, 3] (NaN where it has none): the reading of its deciding
    window (``best_chunk``, the rule that picks a claim's deciding evidence)."""
    out = np.full((n_pairs, 3), np.nan)
    if len(np.unique(owner)) == len(owner):  # every pair read whole
        out[owner] = readings
        return out
    order = np.argsort(owner, kind="stable")
    rows, starts = np.unique(owner[order], return_index=True)
    for row, part in zip(rows, np.split(order, starts[1:]), strict=True):
        out[row] = readings[part[best_chunk(readings[part])]]
    return out


def _in_domain(domain: Domains, of: set[str]) -> bool:
    found = {domain} if isinstance(domain, str) else set(domain or ())
    return bool(found & of)


def route(
    specs: Sequence[ExpertSpec],
    pairs: Sequence[tuple[str, str]],
    own: Sequence[Domains],
    domains: Sequence[Domains],
    top_k: int,
) -> tuple[Gate, list[str], Routing]:
    """The gate over the experts that are not domain experts, its expert names followed by the
    domain experts', and the pairs' top-k routing over those names (a pair the gate is sure
    of, by ``experts.gate_sure_margin``, goes to its first choice alone).

    Every pair is first routed as if no domain expert were registered (the gate over the
    others, the claims' ``own`` domains, expert capacity over all pairs); the pairs of a
    domain expert's domain (``domains``) are then routed again among themselves over every
    expert. So a domain expert changes nothing outside its domain: not the gate's weights,
    not the others' capacity (which depends on how many experts there are).
    """
    factor = get_settings().experts.gate_capacity_factor
    margin = get_settings().experts.gate_sure_margin
    added = [s for s in specs if s.domain_only]
    base = [s for s in specs if not s.domain_only] or list(specs)
    gate = load_gate(base)
    probs = gate.probs(pairs, own) if pairs else np.zeros((0, len(gate.expert_names)))
    routing = top_k_route(probs, top_k, factor, margin)
    if not added or len(base) == len(specs):
        return gate, list(gate.expert_names), routing
    names = list(gate.expert_names) + [s.name for s in added]
    n, width = len(pairs), len(gate.expert_names)
    mask, weights, full_probs = (np.zeros((n, len(names)), dtype=dt) for dt in (bool, float, float))
    mask[:, :width], weights[:, :width], full_probs[:, :width] = (
        routing.mask,
        routing.weights,
        routing.probs,
    )
    dropped = routing.dropped
    of = {d for s in added for d in s.domains}
    rows = [i for i, domain in enumerate(domains) if _in_domain(domain, of)]
    if rows:
        every = load_gate(specs)
        at = [every.expert_names.index(name) for name in names]
        sub = every.probs([pairs[i] for i in rows], [domains[i] for i in rows])
        again = top_k_route(sub, top_k, factor, margin)
        mask[rows], weights[rows] = again.mask[:, at], again.weights[:, at]
        full_probs[rows] = again.probs[:, at]
        dropped += again.dropped
    return gate, names, Routing(mask, weights, full_probs, dropped)


class Scorer:
    """Routes, batches and combines with the experts of one registry.

    Args:
        registry: expert registry YAML; None: the setting or the shipped one.
        top_k: experts per pair; None: ``settings.experts.gate_top_k``.
    """

    def __init__(self, registry: str | None = None, top_k: int | None = None) -> None:
        self.registry = str(registry_path(registry))
        self.top_k = top_k or get_settings().experts.gate_top_k

    def score(
        self,
        claims: Sequence[Claim],
        evidence: dict[str, list[Evidence]],
        runner: BatchRunner | None = None,
        claim_domains: dict[str, str] | None = None,
    ) -> ScoringResult:
        """Score every claim against its evidence (claims without evidence get no pairs).

        Args:
            claims: the claims to score.
            evidence: claim_id -> its ranked evidence chunks.
            runner: where batches run; None: in this process.
            claim_domains: optional claim_id -> domain, matched against registry domains
                (default: "qa" for claims that answer a question).
        """
        settings = get_settings()
        runner = runner or InProcessRunner()
        specs = load_registry(self.registry)
        if not specs:
            raise RuntimeError(f"expert registry {self.registry} has no enabled, available expert")
        kinds = {s.name: s.kind for s in specs}

        pair_claims: list[int] = []
        pair_chunks: list[str] = []
        pair_docs: list[tuple[str, str]] = []
        pairs: list[tuple[str, str]] = []
        titles: list[str] = []
        domains: list[Domains] = []
        on_subject: list[bool] = []
        for ci, claim in enumerate(claims):
            names_in_claim = subject_words(claim.text)
            for ev in evidence.get(claim.claim_id, []):
                pair_claims.append(ci)
                pair_chunks.append(ev.chunk_id)
                pair_docs.append((ev.doc_id, ev.origin))
                pairs.append((claim.text, ev.text))
                titles.append(ev.title)
                domains.append(_domain(claim, claim_domains))
                on_subject.append(same_subject(names_in_claim, ev.text, ev.doc_id))
        own: list[Domains] = list(domains)
        profiles = domain_profiles(specs)
        if profiles and pairs:  # trained domains: by the evidence's document or the claim
            vectors = embed_texts([c.text for c in claims])
            domains = pair_domains(domains, pair_docs, pair_claims, vectors, profiles)

        started = time.perf_counter()
        gate, names, routing = route(specs, pairs, own, domains, self.top_k)
        gated = time.perf_counter()

        # Each expert reads its routed pairs in windows of its own length, each distinct
        # (claim, window) once; its reading of a pair is that of the pair's deciding window.
        slots = runner.slots()
        windows = {s.name: reading_window(s) for s in specs}
        planned: list[tuple[str, np.ndarray]] = []
        batches: list[Batch] = []
        read: dict[str, tuple[list[tuple[str, str]], np.ndarray]] = {}
        once: dict[str, tuple[list[tuple[str, str]], np.ndarray]] = {}
        for e, name in enumerate(names):
            read[name] = read_in_windows(
                pairs, np.flatnonzero(routing.mask[:, e]), windows[name], titles
            )
            once[name] = distinct(read[name][0])
            part = once[name][0]
            for idx in length_batches(
                np.arange(len(part)), part, settings.experts.pairs_per_task, slots
            ):
                planned.append((name, idx))
                batches.append(Batch(name, kinds[name], [part[i] for i in idx], self.registry))
        results = runner.run(batches)
        readings = {name: np.full((len(once[name][0]), 3), np.nan) for name in names}
        for (name, idx), result in zip(planned, results, strict=True):
            readings[name][idx] = result
        outputs = {
            name: best_reading(readings[name][once[name][1]], read[name][1], len(pairs))
            for name in names
        }
        scored = time.perf_counter()

        mixed = mixture(routing, outputs, names)
        stacker = load_combiner(names, specs) if pairs else None
        if stacker is not None:
            cheap = pair_cheap_features(pairs)
            features = stack_features(routing.mask, outputs, names, cheap)
            mixed = stacked(stacker, mixed, features, routing.mask, names)
        held = np.array([coverage(content_tokens(c), content_tokens(e)) for c, e in pairs])
        scores = combine(
            [c.claim_id for c in claims],
            pair_claims,
            pair_chunks,
            routing,
            outputs,
            names,
            mixed,
            np.array(on_subject, dtype=bool) if settings.experts.subject_rule else None,
            held,
            settings.experts.chunk_rule,
        )
        util = utilisation(routing.mask) if pairs else np.zeros(len(names))
        report = {
            "gate": gate.version,
            "combiner": stacker.version if stacker is not None else "mixture",
            "experts": list(names),
            "k": min(self.top_k, len(names)),
            "claims": len(claims),
            "pairs": len(pairs),
            "pairs_scored": int(routing.mask.sum()),
            "windows_read": {n: len(read[n][0]) for n in names},
            "windows_scored": {n: len(once[n][0]) for n in names},
            "dense_pairs": len(pairs) * len(names),
            "routed": {n: int(routing.mask[:, e].sum()) for e, n in enumerate(names)},
            "utilisation": {n: round(float(u), 4) for n, u in zip(names, util, strict=True)},
            "balance": round(balance_score(util), 4) if pairs else None,
            "batches": len(batches),
            "dropped_by_capacity": routing.dropped,
            "gpu_workers": runner.gpus(),
            "gate_s": round(gated - started, 4),
            "experts_s": round(scored - gated, 4),
        }
        return ScoringResult(scores, report)
