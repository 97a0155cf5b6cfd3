"""End-to-end speed where users wait (issue 27): items/s and pairs/s through the in-process
verify path, beside the bare forward pass of the same pairs, with the AUROC it buys.

    python -m benchmarks.e2e_speed [--quick] [--items N] [--docs N] [--kinds short,...]
        [--sources fever_nli_dev,taxinli10k] [--batch 16] [--cold-runs 3]
        [--variant NAME:section.key=value,...] [--out DIR]

Three kinds of labelled items, each verified the way ``verdictflow verify`` checks a small
file (``flows.pipeline.verify_pipeline`` with ``Inline`` execution, ``--batch`` items a call,
stored in a temporary home):

- ``short``: evidence/claim pairs of the verification corpus (dev split of ``--sources``),
  the evidence as the item's context;
- ``summaries``: HaluEval summarisation (dev split), the document cut to its ~400 most
  relevant words as context, the (about three-sentence) summary as the text;
- ``retrieval``: claims of the ``short`` sources without context, checked against a LanceDB
  corpus of ``--docs`` documents (their premises and others), ingested first.

Per kind and settings variant: items/s and claims/s end to end; the (claim, window) pairs the
experts scored and pairs/s end to end; the same pairs in the same batches scored again by the
experts alone (``score_batch``: the bare forward pass) and the ratio of the two rates (the
share of the wall time that is the experts' own work); AUROC of p_supported (supported vs
not) over the items; the pipeline's stages' seconds. Then the cold start: the wall time of
``verdictflow verify ONE.jsonl -o OUT.jsonl`` in a fresh process, in a new home (the
database is created) and again in that home. Results: ``e2e_speed.json`` and ``.md`` under
``--out`` (default ``settings.evaluation.results_dir``).

Each variant starts with empty embedding caches and freshly built experts, then warms up on
items that are not measured; figures are of one process on this machine, so run it on a
quiet one (the load average is recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from benchmarks import measure

KINDS = ("short", "summaries", "retrieval")
DEFAULT_SOURCES = ("fever_nli_dev", "taxinli10k")
SUMMARY_WORDS = 400
WARM_ITEMS = 4
T = TypeVar("T")


@dataclass
class Recorder:
    """A ``BatchRunner`` that scores in this process and keeps each batch and its seconds."""

    batches: list = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def slots(self) -> int:
        return 0

    def gpus(self) -> int:
        return 0

    def run(self, batches: Sequence) -> list[np.ndarray]:
        from experts.mixture.scoring import score_batch

        out = []
        for batch in batches:
            started = time.perf_counter()
            out.append(score_batch(batch))
            self.seconds.append(time.perf_counter() - started)
            self.batches.append(batch)
        return out


class TimedInline:
    """``flows.pipeline.Inline`` that adds up the seconds of each stage."""

    name = "inline"
    batch_quality = False

    def __init__(self, runner: Recorder) -> None:
        from flows.pipeline import Inline

        self._inline = Inline(runner)
        self.stages: dict[str, float] = {}

    def run(self, stage: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        try:
            return stage(*args)
        finally:
            name = getattr(stage, "__name__", str(stage))
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - started

    def batches(self) -> Recorder:
        return self._inline.batches()

    def progress(self, done: int, total: int) -> None:
        return None

    def finished(self, result: Any, outcomes: dict) -> None:
        return None


def _sample(df, n: int, seed: int = 0):
    return df.sample(n=min(n, len(df)), random_state=seed).reset_index(drop=True)


def short_rows(sources: Sequence[str], n: int) -> list[dict]:
    """``n`` dev pairs of the corpus sources, an even share of each, the sources taking
    turns."""
    from experts.training.corpus import read_source
    from experts.training.data import splits

    per = -(-n // len(sources))
    by_source = []
    for source in sources:
        dev = _sample(splits(read_source(source), "group")["dev"], per)
        by_source.append(
            [
                {"id": f"{source}-{i}", "text": r.claim, "context": r.evidence, "label": r.label}
                for i, r in enumerate(dev.itertuples(index=False))
            ]
        )
    turns = [row for group in zip(*by_source, strict=False) for row in group]
    return turns[:n]


def summary_rows(n: int) -> list[dict]:
    """``n`` HaluEval summarisation dev rows (a summary, its document cut to ~400 words)."""
    from experts.training.data import load_halueval, splits

    with measure.settings_env(TRAINING__EXCERPT_WORDS=str(SUMMARY_WORDS)):
        dev = _sample(splits(load_halueval("summarization"), "group")["dev"], n)
    return [
        {"id": f"summary-{i}", "text": r.claim, "context": r.evidence, "label": r.label}
        for i, r in enumerate(dev.itertuples(index=False))
    ]


def build_corpus(folder: Path, rows: list[dict], sources: Sequence[str], docs: int) -> dict:
    """Ingest ``docs`` documents into the home's LanceDB: the premises of ``rows`` and, to
    fill it, train premises of the sources; returns the ingest figures."""
    from experts.training.corpus import read_source
    from experts.training.data import splits
    from retrieval.ingest import ingest_paths

    texts = dict.fromkeys(r["context"] for r in rows)
    for source in sources:
        if len(texts) >= docs:
            break
        texts.update(
            dict.fromkeys(_sample(splits(read_source(source), "group")["train"], docs)["evidence"])
        )
    texts = list(texts)
    path = folder / "corpus.jsonl"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(
            json.dumps({"id": f"doc-{i}", "text": t}) + "\n" for i, t in enumerate(texts[:docs])
        )
    )
    started = time.perf_counter()
    report = ingest_paths([path])
    wall = time.perf_counter() - started
    return {
        "docs": report.counts.get("new", 0),
        "chunks": report.counts["chunks"],
        "wall_s": round(wall, 2),
        "docs_per_s": round(report.counts.get("new", 0) / wall, 1),
    }


def _without_context(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "context"} for r in rows]


def _fresh_process_state() -> None:
    """Empty embedding caches and experts built again: a variant starts as a new process
    would (the models stay on disk's page cache)."""
    from experts.registry import clear_expert_cache
    from retrieval.embedding import token_cache, vector_cache

    vector_cache.clear()
    token_cache.clear()
    clear_expert_cache()


def verify_timed(items: list[dict], batch: int, tag: str) -> dict[str, Any]:
    """Verify ``items`` in calls of ``batch`` items; the figures of the whole set."""
    from experts.evaluation.metrics import auroc
    from experts.mixture.scoring import score_batch
    from flows.pipeline import verify_pipeline
    from storage.repository import current_repository

    recorder = Recorder()
    execution = TimedInline(recorder)
    p_supported: dict[str, float] = {}
    claims = 0
    run_ids = []
    started = time.perf_counter()
    for start in range(0, len(items), batch):
        run_ids.append(f"e2e-{tag}-{start}-{uuid.uuid4().hex[:8]}")
        result = verify_pipeline(execution, items=items[start : start + batch], run_id=run_ids[-1])
        claims += result.counts.get("claims", 0)
        p_supported.update({v.item_id: v.p_supported for v in result.verdicts})
    wall = time.perf_counter() - started

    routed = 0  # the gate's (claim, evidence) assignments, before each expert's windows
    for run_id in run_ids:
        timings = current_repository().get_run(run_id)["timings"] or {}
        routed += sum((timings.get("routing") or {}).values())

    pairs = sum(len(b.pairs) for b in recorder.batches)
    by_expert: dict[str, int] = {}
    for b in recorder.batches:
        by_expert[b.expert] = by_expert.get(b.expert, 0) + len(b.pairs)
    bare = 0.0
    for b in recorder.batches:  # the same pairs in the same batches, experts alone
        t0 = time.perf_counter()
        score_batch(b)
        bare += time.perf_counter() - t0
    labelled = [i for i in items if i["id"] in p_supported]
    positive = np.array([i["label"] == "supported" for i in labelled])
    score = np.array([p_supported[i["id"]] for i in labelled])
    stages = {k: round(v, 3) for k, v in execution.stages.items()}
    stages["scoring (gate, experts, combine)"] = round(wall - sum(execution.stages.values()), 3)
    return {
        "items": len(items),
        "verdicts": len(p_supported),
        "claims": claims,
        "wall_s": round(wall, 3),
        "items_per_s": round(len(items) / wall, 2),
        "claims_per_s": round(claims / wall, 2),
        "pairs_routed": routed,
        "pairs": pairs,
        "pairs_by_expert": by_expert,
        "pairs_per_s": round(pairs / wall, 1),
        "experts_in_run_s": round(sum(recorder.seconds), 3),
        "bare_s": round(bare, 3),
        "bare_pairs_per_s": round(pairs / bare, 1) if bare else None,
        "ratio": round(bare / wall, 3),
        "auroc": round(float(auroc(positive, score)), 4),
        "stages_s": stages,
    }


def run_kind(items: list[dict], warm: list[dict], batch: int, tag: str) -> dict:
    """Warm up on ``warm`` (not measured), then measure ``items``."""
    _fresh_process_state()
    verify_timed(warm, batch, f"{tag}-warm")
    return verify_timed(items, batch, tag)


def _parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """``name:section.key=value,...`` -> (name, ``VERDICTFLOW_`` overrides); ``default``."""
    name, _, spec = text.partition(":")
    env = {}
    for part in filter(None, spec.split(",")):
        key, _, value = part.partition("=")
        env[key.strip().upper().replace(".", "__")] = value.strip()
    return name, env


def cold_start(folder: Path, runs: int) -> dict[str, Any]:
    """Wall seconds of ``verdictflow verify ONE.jsonl -o OUT.jsonl`` in a fresh process: in
    a new home (the database is created), then ``runs`` times again in that home."""
    from benchmarks.run import _home

    folder.mkdir(parents=True, exist_ok=True)
    one = folder / "one.jsonl"
    item = {
        "id": "cold",
        "text": "The Fjell S1 weighs 2 kilograms.",
        "context": "The Fjell S1 is a portable speaker rated IP67. It weighs 1.1 kilograms "
        "and plays for up to 20 hours on a charge.",
    }
    one.write_text(json.dumps(item) + "\n")
    script = Path(sys.executable).with_name("verdictflow")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "deployments.cli"]
    env = {**os.environ, "VERDICTFLOW_HOME": _home(folder / "home")}
    times = []
    for i in range(runs + 1):
        out = folder / f"out-{i}.jsonl"
        started = time.perf_counter()
        done = subprocess.run(
            [*command, "verify", str(one), "-o", str(out), *(["--rerun"] if i else [])],
            capture_output=True,
            text=True,
            env=env,
        )
        times.append(time.perf_counter() - started)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"verdictflow verify failed: {done.stderr[-1500:]}")
    return {
        "new_home_s": round(times[0], 2),
        "s": round(statistics.median(times[1:]), 2) if runs else None,
        "runs": [round(t, 2) for t in times[1:]],
        "target_s": 8.0,
    }


def run(
    kinds: Sequence[str] = KINDS,
    items: int = 200,
    docs: int = 1000,
    sources: Sequence[str] = DEFAULT_SOURCES,
    batch: int | None = None,
    variants: Sequence[str] = ("default",),
    cold_runs: int = 3,
    quick: bool = False,
    out: Path | None = None,
) -> dict[str, Any]:
    """Every kind under every variant, then the cold start; writes the JSON and Markdown."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown kinds {unknown}; expected some of {list(KINDS)}")
    from benchmarks.run import _home
    from verdictflow.config import get_settings, offline_hub

    offline_hub()
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    started = time.time()
    out = Path(out or get_settings().evaluation.results_dir)
    base = Path(tempfile.mkdtemp(prefix="verdictflow-e2e-"))
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "machine": measure.machine(),
        "parameters": {
            "kinds": list(kinds),
            "items": items,
            "docs": docs,
            "sources": list(sources),
            "variants": list(variants),
            "cold_runs": cold_runs,
            "quick": quick,
        },
        "kinds": {},
    }
    with measure.settings_env(HOME=_home(base / "home")):
        batch = batch or get_settings().verify.fast_path_max_items or 16
        result["parameters"]["batch"] = batch
        result["settings"] = measure.settings_summary()
        data: dict[str, tuple[list[dict], list[dict]]] = {}
        if "short" in kinds or "retrieval" in kinds:
            rows = short_rows(sources, items + WARM_ITEMS)
            data["short"] = (rows[WARM_ITEMS:], rows[:WARM_ITEMS])
        if "summaries" in kinds:
            rows = summary_rows(items + WARM_ITEMS)
            data["summaries"] = (rows[WARM_ITEMS:], rows[:WARM_ITEMS])
        if "retrieval" in kinds:
            measured, warm = data["short"]
            result["ingest"] = build_corpus(base / "corpus", warm + measured, sources, docs)
            data["retrieval"] = (_without_context(measured), _without_context(warm))
        for text in variants:
            name, env = _parse_variant(text)
            with measure.settings_env(**env):
                for kind in kinds:
                    measured, warm = data[kind]
                    figures = run_kind(measured, warm, batch, f"{name}-{kind}")
                    result["kinds"].setdefault(kind, {})[name] = {"settings": env, **figures}
                    print(kind, name, json.dumps(figures), flush=True)
    if cold_runs:
        result["cold_start"] = cold_start(base / "cold", cold_runs)
        print("cold start", json.dumps(result["cold_start"]), flush=True)
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result["wall_s"] = round(time.time() - started, 1)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "e2e_speed.json", "markdown": out / "e2e_speed.md"}
    paths["json"].write_text(json.dumps(result, indent=2, default=str) + "\n")
    paths["markdown"].write_text(markdown(result))
    result["paths"] = {k: str(v) for k, v in paths.items()}
    return result


def markdown(result: dict[str, Any]) -> str:
    """The report: one row per kind and variant, the cold start, the stages."""
    m = result["machine"]
    p = result["parameters"]
    lines = [
        "# End-to-end speed (issue 27)",
        "",
        f"{result['when']} · {m['cores']} cores ({m['cpu']}), GPU: {m['gpu'] or 'none'} · "
        f"code `{m['code_version']}` · load average at start {m['load_at_start']}, after "
        f"{result.get('load_after')} · {result.get('wall_s')} s"
        + (" · **--quick**" if p.get("quick") else ""),
        "",
        f"In-process verify path (`Inline`, {p.get('batch')} items a call, stored); pairs: the "
        "(claim, window) pairs the experts scored; bare: the same batches scored by the "
        "experts alone; ratio: end-to-end pairs/s over bare pairs/s.",
        "",
        "| kind | variant | items | claims | pairs | items/s | pairs/s | bare pairs/s | ratio "
        "| AUROC |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, by_variant in result["kinds"].items():
        for name, f in by_variant.items():
            lines.append(
                f"| {kind} | {name} | {f['items']} | {f['claims']} | {f['pairs']} | "
                f"{f['items_per_s']} | {f['pairs_per_s']} | {f['bare_pairs_per_s']} | "
                f"{f['ratio']} | {f['auroc']} |"
            )
    if "ingest" in result:
        i = result["ingest"]
        lines += ["", f"Retrieval corpus: {i['docs']} documents, {i['chunks']} chunks, "
                  f"ingested at {i['docs_per_s']} docs/s."]  # fmt: skip
    cold = result.get("cold_start")
    if cold:
        lines += [
            "",
            "## Cold start: `verdictflow verify ONE.jsonl -o OUT.jsonl`, a fresh process",
            "",
            "| | wall s | target |",
            "|---|---|---|",
            f"| existing home (median of {len(cold['runs'])}) | {cold['s']} | ≤ "
            f"{cold['target_s']} |",
            f"| new home (database created) | {cold['new_home_s']} | |",
        ]
    lines += ["", "## Where the time goes (seconds, whole set)", ""]
    for kind, by_variant in result["kinds"].items():
        for name, f in by_variant.items():
            stages = ", ".join(f"{k} {v}" for k, v in f["stages_s"].items())
            lines.append(f"- {kind} / {name}: {stages}; settings `{f['settings']}`")
    lines += ["", f"Settings: `{result.get('settings')}`", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 items, 200 documents, 1 cold")
    parser.add_argument("--items", type=int, default=None, help="measured items per kind")
    parser.add_argument("--docs", type=int, default=None, help="documents of the corpus")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--sources", default=",".join(DEFAULT_SOURCES))
    parser.add_argument("--batch", type=int, default=None, help="items a call (fast path's)")
    parser.add_argument("--cold-runs", type=int, default=None)
    parser.add_argument(
        "--variant",
        action="append",
        default=None,
        help="NAME:section.key=value,... settings overrides (repeatable; default: default)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    result = run(
        kinds=[k for k in args.kinds.split(",") if k],
        items=args.items or (16 if args.quick else 200),
        docs=args.docs or (200 if args.quick else 1000),
        sources=[s for s in args.sources.split(",") if s],
        batch=args.batch,
        variants=args.variant or ["default"],
        cold_runs=(1 if args.quick else 3) if args.cold_runs is None else args.cold_runs,
        quick=args.quick,
        out=args.out,
    )
    print(Path(result["paths"]["markdown"]).read_text())


if __name__ == "__main__":
    main()
