"""Batch scale (issue 27, item 5): a 10,000-item run keeps its claims/s (no fall over 10 %
from 1,000 items), its memory bounded and its progress shown; on two cores two Dask workers
are not slower than one process.

    python -m benchmarks.batch_scale [--sizes 1000,10000] [--modes process,dask2] [--docs N]
        [--json PATH] [--markdown PATH] [--keep]

The workload is what a nightly data-quality run looks like: records of a data set (one
sentence of product facts each, no context of their own, no gold label) checked against a
corpus that is the source of truth. The corpus: ``--docs`` product documents of
``benchmarks.workload`` (default one per product the largest size speaks of, at most
``workload.PRODUCTS``), ingested once with ``verdictflow ingest`` into a template home. Record
``j`` states a fact of product ``j % PRODUCTS`` (``workload.claim``), true or with one fact
changed, the two alternating and swapped on each further pass over the products, so up to
``2 * PRODUCTS`` (10,000) records no text repeats and no cache favours the larger run.

Each size and mode is one ``verdictflow verify RECORDS.jsonl -o OUT.jsonl`` in a fresh
process (the command a scheduled job runs), on a fresh copy of the template home (SQLite
under it, LanceDB; ``VERDICTFLOW_DATABASE_URL`` and ``VERDICTFLOW_DASK_ADDRESS`` are dropped)
with one Prefect home shared by the runs, as a scheduled job's would be:

- ``process``: ``dask.use_dask`` false, one worker thread: the experts' batches run in the
  CLI's own process;
- ``dask2``: the local Dask cluster of 2 worker processes x 1 thread (the shipped settings).

A forward pass uses every core in ``process`` and one thread a worker in ``dask2``
(``Settings.compute_threads``). Up to
``verify.fast_path_max_items`` (16) records the CLI takes the fast path (no flow run, no
cluster) whatever the mode; the report says which path ran.

Per run: items, claims, the command's wall seconds (cold: imports, the temporary Prefect
API, the cluster, the models) and the run's own seconds (``total_s`` stored with the run:
reading the records to closing the run), claims/s of each; peak RSS in MB of the CLI process,
of its children summed (Dask nanny and worker processes, the temporary Prefect server; the
server also on its own) and of the whole tree summed, sampled with psutil every 0.5 s (plain
RSS: pages shared by processes count in each); the CLI's progress lines (``verifying: N of M
items``, one a batch of ``verify.batch_items``) with when each came and the tree's RSS then,
whence the growth in MB per 1,000 items from the first line at a quarter of the items or
later (the embedding caches, bounded, fill first) to the last; the verdicts and how many
agree with the truth (a sanity check, not a quality figure). Then, on run seconds and on
wall seconds, claims/s of the largest size over the smallest per mode (target >= 0.9) and
dask2 over process per size (target >= 1.0).

Results: ``benchmarks/results/batch_scale.json`` and ``.md``. Figures are of this machine:
run it on a quiet one (the load average is recorded).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import measure, workload

RESULTS = Path(__file__).parent / "results"
DEFAULT_SIZES = (1000, 10_000)
MODES: dict[str, dict[str, str]] = {
    "process": {
        "DASK__USE_DASK": "false",
        "DASK__N_WORKERS": "1",
        "DASK__THREADS_PER_WORKER": "1",
    },
    "dask2": {
        "DASK__USE_DASK": "true",
        "DASK__N_WORKERS": "2",
        "DASK__THREADS_PER_WORKER": "1",
        "DASK__PROCESSES": "true",
    },
}
SCALE_TARGET = 0.9  # claims/s of the largest size over the smallest
DASK_TARGET = 1.0  # dask2 claims/s over process claims/s
PROGRESS = re.compile(r"^verifying: (\d+) of (\d+) items")
MB = 2**20


def is_true(j: int) -> bool:
    """Whether record ``j`` states its product's fact as it is."""
    return (j + j // workload.PRODUCTS) % 2 == 0


def records(n: int) -> list[dict]:
    """``n`` records ``{"id", "text"}`` (no context, no label): record ``j`` about product
    ``j % PRODUCTS``, true when ``is_true(j)``."""
    return [
        {"id": f"record-{j}", "text": workload.claim(j % workload.PRODUCTS, is_true(j))}
        for j in range(n)
    ]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("verdictflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "deployments.cli"]


def _env(home: Path, prefect_home: Path, mode: str) -> dict[str, str]:
    """This environment with a fresh home, SQLite, the mode's Dask settings, nothing
    downloaded."""
    drop = ("VERDICTFLOW_DASK_ADDRESS", "VERDICTFLOW_DATABASE_URL", "VERDICTFLOW_DASK__")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    for name, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }.items():
        env.setdefault(name, value)
    env.update(VERDICTFLOW_HOME=str(home), PREFECT_HOME=str(prefect_home))
    env.update({f"VERDICTFLOW_{key}": value for key, value in MODES[mode].items()})
    return env


def inherited_settings() -> dict[str, str]:
    """The ``VERDICTFLOW_*`` settings the runs inherit from this environment."""
    prefix = "VERDICTFLOW_"
    env = _env(Path("home"), Path("prefect"), "process")
    ours = ("VERDICTFLOW_HOME", *(prefix + key for key in MODES["process"]))
    return {k: v for k, v in sorted(env.items()) if k.startswith(prefix) and k not in ours}


def build_corpus(base: Path, template: Path, prefect_home: Path, docs: int) -> dict[str, Any]:
    """``verdictflow ingest`` of ``docs`` product documents into the template home."""
    folder = workload.write_corpus(base / "corpus", docs)
    started = time.perf_counter()
    done = subprocess.run(
        [*_command(), "ingest", str(folder), "--json"],
        env=_env(template, prefect_home, "process"),
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"verdictflow ingest failed: {(done.stdout + done.stderr)[-2000:]}")
    counts = json.loads(done.stdout[done.stdout.index("{") :])["counts"]
    return {
        "docs": counts.get("new", 0),
        "chunks": counts.get("chunks", 0),
        "wall_s": round(wall, 1),
    }


class TreeSampler:
    """RSS of a process and of all its children, every ``interval_s`` in a thread: rows of
    (seconds since ``started``, the process's MB, its children's MB summed, the Prefect
    server's MB)."""

    def __init__(self, pid: int, started: float, interval_s: float = 0.5) -> None:
        self.pid = pid
        self.started = started
        self.interval_s = interval_s
        self.samples: list[tuple[float, float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
            driver = root.memory_info().rss
            kids = root.children(recursive=True)
        except psutil.Error:
            return
        children = server = 0
        for proc in kids:
            with contextlib.suppress(psutil.Error):
                rss = proc.memory_info().rss
                children += rss
                if measure._is_prefect_server(proc):
                    server += rss
        t = time.perf_counter() - self.started
        self.samples.append((round(t, 2), driver / MB, children / MB, server / MB))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peaks(self) -> dict[str, float]:
        """Peak MB of the process, of its children, of the tree, of the Prefect server."""
        rows = self.samples or [(0.0, 0.0, 0.0, 0.0)]
        return {
            "cli": round(max(r[1] for r in rows), 1),
            "children": round(max(r[2] for r in rows), 1),
            "tree": round(max(r[1] + r[2] for r in rows), 1),
            "prefect_server": round(max(r[3] for r in rows), 1),
        }

    def at(self, t: float) -> tuple[float, float]:
        """The process's and the tree's MB at the last sample at or before ``t``."""
        before = [r for r in self.samples if r[0] <= t] or self.samples[:1]
        if not before:
            return 0.0, 0.0
        row = before[-1]
        return round(row[1], 1), round(row[1] + row[2], 1)


def _read_lines(stream, started: float, into: list[tuple[float, str]]) -> None:
    for line in stream:
        into.append((round(time.perf_counter() - started, 2), line.rstrip("\n")))


def stored_run(home: Path, run_id: str) -> dict[str, Any]:
    """The run as the CLI stored it in the home's SQLite database."""
    from storage.repository import Repository

    repo = Repository(f"sqlite:///{(home / 'verdictflow.db').resolve()}")
    try:
        run = repo.get_run(run_id)
    finally:
        repo.dispose()
    if run is None:
        raise RuntimeError(f"run {run_id} is not stored in {home}")
    return run


def verify_run(
    folder: Path, template: Path, prefect_home: Path, path: Path, size: int, mode: str
) -> dict[str, Any]:
    """One ``verdictflow verify`` of ``path`` in a fresh copy of the template home."""
    home = folder / "home"
    shutil.copytree(template, home, ignore=shutil.ignore_patterns("logs"))
    out = folder / "verdicts.jsonl"
    lines: list[tuple[float, str]] = []
    started = time.perf_counter()
    process = subprocess.Popen(
        [*_command(), "verify", str(path), "-o", str(out)],
        env=_env(home, prefect_home, mode),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    reader = threading.Thread(target=_read_lines, args=(process.stderr, started, lines))
    reader.start()
    with TreeSampler(process.pid, started) as sampler:
        code = process.wait()
        wall = time.perf_counter() - started
    reader.join()
    said = [line for _, line in lines if not PROGRESS.match(line)]
    if code != 0 or not out.exists():
        raise RuntimeError(f"verdictflow verify ({mode}, {size}) exited {code}: {said[-30:]}")

    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    run = stored_run(home, rows[0]["run_id"])
    claims = run["counts"]["claims"]
    run_s = float(run["timings"]["total_s"])
    verdicts: dict[str, int] = {}
    agree = 0
    for row in rows:
        verdicts[row["verdict"]] = verdicts.get(row["verdict"], 0) + 1
        j = int(row["id"].rsplit("-", 1)[1])
        agree += (row["verdict"] == "supported") == is_true(j)
    progress = []
    for t, line in lines:
        match = PROGRESS.match(line)
        if match:
            progress.append([int(match[1]), t, *sampler.at(t)])  # done, s, CLI MB, tree MB
    growth = None  # past the caches' warm-up: from the first line at a quarter of the items
    later = [p for p in progress[:-1] if p[0] >= len(rows) / 4] or progress[:1]
    if later and progress[-1][0] > later[0][0]:
        first, last = later[0], progress[-1]
        growth = round(1000 * (last[3] - first[3]) / (last[0] - first[0]), 1)
    return {
        "size": size,
        "mode": mode,
        "path": run["timings"].get("execution"),
        "items": run["counts"]["items"],
        "claims": claims,
        "claims_in_output": sum(len(row["claims"]) for row in rows),
        "wall_s": round(wall, 1),
        "run_s": round(run_s, 1),
        "claims_per_s": round(claims / run_s, 2),
        "claims_per_s_wall": round(claims / wall, 2),
        "peak_rss_mb": sampler.peaks(),
        "rss_samples": len(sampler.samples),
        "progress": progress,
        "tree_growth_mb_per_1000_items": growth,
        "verdicts": verdicts,
        "agree_with_truth": round(agree / len(rows), 3),
        "status": run["status"],
        "last_line": said[-1] if said else "",
    }


def ratios(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Largest over smallest size per mode, dask2 over process per size; on run seconds and
    on wall seconds."""
    by = {(r["mode"], r["size"]): r for r in runs}
    sizes = sorted({r["size"] for r in runs})
    modes = list(dict.fromkeys(r["mode"] for r in runs))
    out = []

    def add(what: str, top: dict, bottom: dict, target: float) -> None:
        figure = round(top["claims_per_s"] / bottom["claims_per_s"], 3)
        wall = round(top["claims_per_s_wall"] / bottom["claims_per_s_wall"], 3)
        out.append(
            {"what": what, "ratio": figure, "ratio_wall": wall, "target": target,
             "met": figure >= target}
        )  # fmt: skip

    if len(sizes) > 1:
        for mode in modes:
            small, large = by.get((mode, sizes[0])), by.get((mode, sizes[-1]))
            if small and large:
                add(f"{mode}: {large['size']:,} / {small['size']:,} items", large, small,
                    SCALE_TARGET)  # fmt: skip
    for size in sizes:
        one, two = by.get(("process", size)), by.get(("dask2", size))
        if one and two:
            add(f"{size:,} items: dask2 / process", two, one, DASK_TARGET)
    return out


def run(
    sizes: Sequence[int] = DEFAULT_SIZES,
    modes: Sequence[str] = tuple(MODES),
    docs: int | None = None,
    json_path: Path | None = RESULTS / "batch_scale.json",
    markdown_path: Path | None = RESULTS / "batch_scale.md",
    keep: bool = False,
    command: str = "",
) -> dict[str, Any]:
    """Ingest the corpus, then every size in every mode; writes the JSON and Markdown."""
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        raise ValueError(f"unknown modes {unknown}; expected some of {list(MODES)}")
    if not sizes or min(sizes) < 1:
        raise ValueError(f"sizes must be positive: {list(sizes)}")
    needed = min(workload.PRODUCTS, max(sizes))
    docs = needed if docs is None else docs
    if docs < needed:
        raise ValueError(f"--docs {docs}: the records speak of {needed} products")
    started = time.time()
    base = Path(tempfile.mkdtemp(prefix="verdictflow-batch-scale-"))
    template, prefect_home = base / "template", base / "prefect"
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "command": command,
        "machine": measure.machine(),
        "parameters": {"sizes": list(sizes), "modes": list(modes), "docs": docs},
        "settings_from_env": inherited_settings(),
        "runs": [],
    }
    try:
        result["corpus"] = build_corpus(base, template, prefect_home, docs)
        print("corpus", json.dumps(result["corpus"]), flush=True)
        for size in sizes:
            path = base / f"records-{size}.jsonl"
            with path.open("w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(r) + "\n" for r in records(size))
            for mode in modes:
                folder = base / f"{mode}-{size}"
                figures = verify_run(folder, template, prefect_home, path, size, mode)
                result["runs"].append(figures)
                brief = {k: v for k, v in figures.items() if k != "progress"}
                print(mode, size, json.dumps(brief), flush=True)
                if not keep:
                    shutil.rmtree(folder, ignore_errors=True)
    finally:
        if keep:
            result["folder"] = str(base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    result["ratios"] = ratios(result["runs"])
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result["wall_s"] = round(time.time() - started, 1)
    for target, text in (
        (json_path, json.dumps(result, indent=2, default=str) + "\n"),
        (markdown_path, markdown(result)),
    ):
        if target is not None:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            Path(target).write_text(text, encoding="utf-8")
    return result


def markdown(result: dict[str, Any]) -> str:
    """The report: a row per run, the ratios with their targets, the progress seen."""
    m, corpus = result["machine"], result.get("corpus", {})
    lines = [
        "# Batch scale (issue 27, item 5)",
        "",
        f"{result['when']} · {m['cores']} cores ({m['cpu']}), GPU: {m['gpu'] or 'none'} · "
        f"code `{m['code_version']}` · load average at start {m['load_at_start']}, after "
        f"{result.get('load_after')} · {result.get('wall_s')} s",
        "",
        f"`{result.get('command') or 'python -m benchmarks.batch_scale'}`"
        + (
            f" · settings from the environment: `{result['settings_from_env']}`"
            if result.get("settings_from_env")
            else ""
        ),
        "",
        "A nightly data-quality run: records without context (one product fact each, half "
        f"changed) checked against a corpus of {corpus.get('docs')} product documents "
        f"({corpus.get('chunks')} chunks), each run `verdictflow verify RECORDS.jsonl -o "
        "OUT.jsonl` in a fresh process on a fresh home. process: the experts in the CLI's "
        "process (`dask.use_dask=false`, one thread); dask2: a local Dask cluster of 2 "
        "workers x 1 thread. run s: the run's own seconds as stored (records read to run "
        "closed); wall s: the whole command, cold. Peak RSS in MB, plain RSS summed "
        "(shared pages count in each process); growth: the tree's RSS from the first "
        "progress line at a quarter of the items or later to the last, per 1,000 items.",
        "",
        "| mode | items | claims | path | wall s | run s | claims/s | claims/s (wall) | RSS CLI "
        "| RSS children | RSS tree | of it Prefect server | growth MB / 1,000 | progress lines "
        "| agree |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        p = r["peak_rss_mb"]
        lines.append(
            f"| {r['mode']} | {r['items']} | {r['claims']} | {r['path']} | {r['wall_s']} | "
            f"{r['run_s']} | {r['claims_per_s']} | {r['claims_per_s_wall']} | {p['cli']} | "
            f"{p['children']} | {p['tree']} | {p['prefect_server']} | "
            f"{r['tree_growth_mb_per_1000_items']} | {len(r['progress'])} | "
            f"{r['agree_with_truth']} |"
        )
    if result.get("ratios"):
        lines += [
            "",
            "## Ratios (claims/s)",
            "",
            "| | on run s | on wall s | target | met (run s) |",
            "|---|---|---|---|---|",
        ]
        for x in result["ratios"]:
            lines.append(
                f"| {x['what']} | {x['ratio']} | {x['ratio_wall']} | ≥ {x['target']} | "
                f"{'yes' if x['met'] else 'no'} |"
            )
    lines += ["", "## Progress (`verifying: N of M items` on the CLI's stderr)", ""]
    for r in result["runs"]:
        shown = r["progress"]
        if shown:
            first, last = shown[0], shown[-1]
            lines.append(
                f"- {r['mode']} {r['items']}: {len(shown)} lines, the first ({first[0]} items) "
                f"at {first[1]} s, the last ({last[0]}) at {last[1]} s of {r['wall_s']} s; "
                f"tree RSS {first[3]} MB then {last[3]} MB"
            )
        else:
            lines.append(f"- {r['mode']} {r['items']}: none (one batch)")
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--docs", type=int, default=None, help="corpus documents")
    parser.add_argument("--json", type=Path, default=RESULTS / "batch_scale.json")
    parser.add_argument("--markdown", type=Path, default=RESULTS / "batch_scale.md")
    parser.add_argument("--keep", action="store_true", help="keep the homes and outputs")
    args = parser.parse_args(argv)
    given = list(sys.argv[1:] if argv is None else argv)
    result = run(
        sizes=[int(s) for s in args.sizes.split(",") if s],
        modes=[m for m in args.modes.split(",") if m],
        docs=args.docs,
        json_path=args.json,
        markdown_path=args.markdown,
        keep=args.keep,
        command=" ".join(["python -m benchmarks.batch_scale", *given]),
    )
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
