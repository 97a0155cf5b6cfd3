"""Load the dashboard's pages over a PostgreSQL database of 100,000 claim verdicts.

    python -m benchmarks.dashboard_load --claims 100000

Fills a database of its own (``--url``, default ``vf_dash_bench`` on the local PostgreSQL;
dropped and made again unless ``--reuse``) through the Repository: ``--runs`` verify runs over
60 days, two claims per item, two evidence chunks and two routed experts per claim, the
newest run the largest (a quarter of the claims) and labelled, plus a reprocessing of part of
it and an evaluation. Then, per page:

- ``sql_ms``: the page's reads (the ``storage.dashboard*`` calls it makes, same arguments),
  median of ``--repeat`` rounds on a warm connection;
- in a real browser (Debian's Chromium) against ``verdictflow dashboard``: ``goto``, the
  page's URL loaded until its first data shows (a metric's value, the item table's first
  cell): the first visit (``cold``; the first page also pays the app's Python imports) and
  the median of the visits after it (``warm``); ``server``, the page's own script run on the
  server for those visits (the app's "page drawn in" caption: its reads, tables and
  figures); ``nav``, the page opened from the sidebar (no page reload) until its data shows.

Writes ``benchmarks/results/dashboard_load.{json,md}`` and prints the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/vf_dash_bench"
LABELS = ("supported", "contradicted", "unsupported", "uncertain")
EXPERTS = ("nli-general", "numbers", "nli-qa", "entities", "negation")


def recreate(url: str) -> None:
    """Drop and create the database of ``url`` (through the server's ``postgres`` database)."""
    parsed = sa.engine.make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def _probs(rng: random.Random, label: str) -> tuple[tuple[float, float, float], bool]:
    if label == "supported":
        p = 0.5 + 0.5 * rng.random()
        return (p, (1 - p) / 3, 2 * (1 - p) / 3), False
    if label == "contradicted":
        c = 0.5 + 0.45 * rng.random()
        return ((1 - c) / 2, c, (1 - c) / 2), False
    if label == "unsupported":
        n = 0.5 + 0.45 * rng.random()
        return ((1 - n) * 0.6, (1 - n) * 0.4, n), False
    p = 0.3 + 0.19 * rng.random()
    return (p, 0.1, 0.9 - p), True


def write_run(repo: Any, run_id: str, n_items: int, seed: int, **opts: Any) -> list[str]:
    """One verify run of ``n_items`` items (two claims each) through the Repository."""
    from verdictflow.contracts import (
        Claim,
        ClaimScore,
        ClaimVerdict,
        Evidence,
        Item,
        QualityResult,
    )
    from verdictflow.verdicts import item_verdict

    rng = random.Random(seed)
    labelled, parent = opts.get("labelled", False), opts.get("parent")
    item_ids = opts.get("item_ids") or [f"{run_id}-item-{i}" for i in range(n_items)]
    params = {"dataset": opts.get("dataset", "catalogue")}
    if parent:
        params = {"parent_run_id": parent}
    repo.start_run(run_id, "verify", params, "bench", parent_run_id=parent)
    items, claims, scores, verdicts = [], [], [], []
    for i, item_id in enumerate(item_ids):
        gold = rng.choice(("supported", "supported", "unsupported", "contradicted"))
        text = f"The product {item_id} weighs {100 + i % 900} grams. It ships in {i % 7 + 1} days."
        meta = {"label": gold} if labelled else {}
        items.append(Item(id=item_id, text=text, metadata=meta))
        cvs = []
        for j, sentence in enumerate(text.split(". ")):
            claim_id = f"{item_id}:{j}"
            start = text.index(sentence)
            claims.append(
                Claim(
                    item_id=item_id,
                    claim_id=claim_id,
                    index=j,
                    text=sentence,
                    start=start,
                    end=start + len(sentence),
                )
            )
            label = gold if rng.random() < 0.7 else rng.choice(LABELS)
            probs, abstained = _probs(rng, label)
            docs = [f"doc-{(i + k) % 500}" for k in range(2)]
            evidence = [
                Evidence(
                    claim_id=claim_id,
                    doc_id=d,
                    chunk_id=f"{d}#{k}",
                    text=f"{d} says {sentence}.",
                    score=rng.random(),
                    rank=k + 1,
                    origin="corpus",
                )
                for k, d in enumerate(docs)
            ]
            routed = rng.sample(EXPERTS, 2)
            w = 0.5 + 0.4 * rng.random()
            weights = {routed[0]: w, routed[1]: 1 - w}
            expert_probs = {
                name: {e.chunk_id: _probs(rng, rng.choice(LABELS))[0] for e in evidence}
                for name in routed
            }
            best = evidence[0].chunk_id
            scores.append(
                ClaimScore(
                    claim_id=claim_id,
                    probs=probs,
                    best_chunk_id=best,
                    experts=weights,
                    expert_probs=expert_probs,
                )
            )
            cvs.append(
                ClaimVerdict(
                    item_id=item_id,
                    claim_id=claim_id,
                    text=sentence,
                    label=ClaimVerdict.label_for(probs, abstained),
                    probs=probs,
                    p_supported=probs[0],
                    uncertainty=rng.random(),
                    abstained=abstained,
                    evidence=evidence,
                    best_evidence=best,
                    experts=weights,
                )
            )
        verdicts.append(item_verdict(item_id, cvs))
    repo.save_items(run_id, items)
    repo.save_claims(run_id, claims)
    repo.save_expert_scores(run_id, scores)
    repo.save_verdicts(run_id, verdicts)
    gate_ok = rng.random() > 0.15
    repo.save_quality_results(
        run_id,
        [
            QualityResult(
                suite="batch",
                expectation="unsupported_share",
                success=gate_ok,
                details={"rule": "max_unsupported_share"},
            ),
            QualityResult(suite="outputs", expectation="one_verdict_per_item", success=True),
        ],
    )
    status = "completed" if gate_ok else "quality_failed"
    routing: dict[str, int] = {}  # pairs scored per expert, as the pipeline records it
    for score in scores:
        for name in score.experts:
            routing[name] = routing.get(name, 0) + len(score.expert_probs[name])
    timings = {"total_s": round(len(claims) / 15, 2), "routing": routing}
    repo.finish_run(run_id, status, {"items": len(items)}, timings)
    return item_ids


def fill(url: str, total_claims: int, n_runs: int) -> dict[str, Any]:
    """The benchmark's database: returns the ids the pages are loaded with."""
    from storage.models import runs_t
    from storage.repository import Repository
    from verdictflow.contracts import DocumentRecord, InputError

    repo = Repository(url)
    repo.upgrade()
    repo.upsert_documents(
        [
            DocumentRecord(doc_id=f"doc-{d}", source=f"doc-{d}.txt", content_hash=f"h{d}")
            for d in range(500)
        ]
    )
    big_items = total_claims // 8  # the newest run: a quarter of the claims, two per item
    redone = min(2000, big_items)  # of its items, reprocessed
    rest = (total_claims - 2 * big_items - 2 * redone) // 2
    small = max(1, rest // max(1, n_runs - 1))
    now = datetime.now(UTC).replace(microsecond=0)
    starts: dict[str, datetime] = {}
    for r in range(n_runs - 1):
        run_id = f"bench-run-{r:03d}"
        write_run(
            repo,
            run_id,
            small,
            seed=r,
            dataset=("catalogue", "policies", "support")[r % 3],
            labelled=r % 5 == 0,
        )
        starts[run_id] = now - timedelta(days=60) + timedelta(hours=r * 1440 / n_runs)
        print(f"  {run_id}: {small} items", flush=True)
    big = "bench-run-big"
    big_ids = write_run(repo, big, big_items, seed=999, dataset="catalogue", labelled=True)
    repo.save_input_errors(
        big,
        [
            InputError(line=i, item_id=None, rule="text", message="field 'text' is empty")
            for i in range(1, 40)
        ],
    )
    starts[big] = now - timedelta(hours=2)
    reprocess = "bench-reprocess"
    write_run(repo, reprocess, 0, seed=7, parent=big, item_ids=big_ids[:redone])
    starts[reprocess] = now - timedelta(hours=1)
    evaluation = "bench-eval"
    repo.start_run(evaluation, "evaluate", {"datasets": ["catalogue"]}, "bench")
    repo.finish_run(
        evaluation,
        "completed",
        {
            "datasets": {"catalogue": {"n": big_items, "ece": 0.1, "verify_run_id": big}},
            "overall": {"ece": 0.1},
        },
        {},
    )
    starts[evaluation] = now - timedelta(minutes=30)
    with repo.engine.begin() as conn:
        for run_id, at in starts.items():
            conn.execute(runs_t.update().where(runs_t.c.run_id == run_id).values(started_at=at))
        conn.execute(sa.text("ANALYZE"))
    counts = repo.table_counts()
    repo.dispose()
    return {"big": big, "reprocess": reprocess, "item": big_ids[1], "counts": counts}


def page_reads(ids: dict[str, Any]) -> dict[str, Any]:
    """Each page's storage calls, as the page makes them (default filters, the big run)."""
    from storage import dashboard as D
    from storage import dashboard_items as DI
    from storage import dashboard_stats as S
    from verdictflow.config import get_settings

    big, rep, item = ids["big"], ids["reprocess"], ids["item"]
    chars = get_settings().experts.long_source_chars

    def overview(c):
        first, last = D.time_span(c)
        f = D.RunFilter(since=first, until=last + timedelta(days=1))
        D.datasets(c), D.count_runs(c, f), D.verdict_totals(c, f), D.run_overview(c, f, 500)

    def run(c):
        D.recent_runs(c, 200), D.get_run(c, big), D.run_verdict_counts(c, big)
        DI.quality_checks(c, big), DI.input_errors(c, big), DI.count_items(c, big)
        DI.run_items(c, big, "p_supported", True, 0, 50)

    def item_page(c):
        DI.item_detail(c, big, item)

    def changes(c):
        DI.reprocess_runs(c, 200), D.get_run(c, rep), DI.count_changes(c, rep, big)
        DI.run_changes(c, rep, big, False, 0, 50), DI.change_cause(c, rep, big, item)

    def experts(c):
        first, last = D.time_span(c)
        S.expert_usage(c, D.RunFilter(since=first, until=last + timedelta(days=1)), 200)
        D.recent_runs(c, 200), S.routing_by_domain(c, big, chars), S.expert_agreement(c, big)

    def calibration(c):
        S.labelled_runs(c), S.evaluations(c), S.calibration_buckets(c, [big])
        S.labelled_verdicts(c, [big])  # the ECE and reliability bins, as the batch gate's

    return {
        "overview": overview,
        "run": run,
        "run item": item_page,
        "changes": changes,
        "experts": experts,
        "calibration": calibration,
    }


def time_sql(url: str, ids: dict[str, Any], repeat: int) -> dict[str, float]:
    """Median milliseconds of each page's reads."""
    from storage.engine import make_engine

    engine = make_engine(url)
    out = {}
    with engine.connect() as conn:
        for name, reads in page_reads(ids).items():
            reads(conn)  # warm the plan and the buffers
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                reads(conn)
                times.append(1000 * (time.perf_counter() - t))
            out[name] = round(statistics.median(times), 1)
    engine.dispose()
    return out


def page_urls(ids: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    """page -> (path, sidebar link, what shows once its data is there)."""
    return {
        "overview": ("/", "Overview", "metric:Runs"),
        "run": (f"/run?run={ids['big']}", "A run", "grid:" + ids["big"]),
        "run item": (f"/run?run={ids['big']}&item={ids['item']}", "", "heading:Item"),
        "changes": (f"/changes?run={ids['reprocess']}", "What changed", "metric:Verdicts changed"),
        "experts": (f"/experts?run={ids['big']}", "Experts", "metric:Claims"),
        "calibration": (f"/calibration?run={ids['big']}", "Calibration", "metric:ECE"),
    }


def _wait_for(page: Any, what: str) -> None:
    import re

    kind, _, text = what.partition(":")
    if kind == "metric":
        label = page.locator(
            "[data-testid=stMetricLabel]", has_text=re.compile(f"^{re.escape(text)}$")
        )
        value = (
            page.locator("[data-testid=stMetric]")
            .filter(has=label)
            .locator("[data-testid=stMetricValue]")
        )
        value.filter(has_text=re.compile(r"\S")).first.wait_for()
    elif kind == "grid":
        page.locator("[data-testid=stDataFrame] table td").first.wait_for(state="attached")
    else:
        page.get_by_role("heading", name=re.compile(f"^{re.escape(text)}")).first.wait_for()


def _drawn_ms(page: Any) -> float:
    """The server's own time for the page's script run (the app's sidebar caption)."""
    import re

    caption = page.get_by_text(re.compile(r"^page drawn in \d+ ms$"))
    caption.wait_for()
    return float(re.search(r"(\d+) ms", caption.inner_text()).group(1))


def time_browser(url: str, ids: dict[str, Any], visits: int) -> dict[str, dict[str, float]]:
    """Milliseconds until each page's first data shows: by URL (cold, warm) and by sidebar."""
    import socket

    from playwright.sync_api import sync_playwright

    from deployments.server import stop_process_group

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "VERDICTFLOW_DATABASE_URL": url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    log = open(Path(tempfile.gettempdir()) / "vf_dash_bench.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "verdictflow"), "dashboard", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    out: dict[str, dict[str, float]] = {}
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("dashboard did not start") from None
                time.sleep(0.3)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1500, "height": 1200})
            page.set_default_timeout(120_000)
            for name, (path, _, what) in page_urls(ids).items():
                times, drawn = [], []
                for _ in range(1 + visits):
                    t = time.perf_counter()
                    page.goto(base + path)
                    _wait_for(page, what)
                    times.append(1000 * (time.perf_counter() - t))
                    drawn.append(_drawn_ms(page))
                out[name] = {
                    "goto_cold_ms": round(times[0]),
                    "goto_warm_ms": round(statistics.median(times[1:])),
                    "server_cold_ms": drawn[0],
                    "server_warm_ms": round(statistics.median(drawn[1:])),
                }
            page.goto(base + "/")
            _wait_for(page, "metric:Runs")
            for _ in range(visits):
                for name, (_, link, what) in page_urls(ids).items():
                    if not link:
                        continue
                    t = time.perf_counter()
                    page.get_by_role("link", name=link, exact=True).click()
                    _wait_for(page, what)
                    out[name].setdefault("nav", []).append(1000 * (time.perf_counter() - t))
            for row in out.values():
                if "nav" in row:
                    row["nav_ms"] = round(statistics.median(row.pop("nav")))
            browser.close()
    finally:
        stop_process_group(server)
        log.close()
    return out


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table."""
    lines = [
        f"# Dashboard load, {report['claim_verdicts']:,} claim verdicts on PostgreSQL",
        "",
        f"`{report['command']}`, {report['when']}; {report['machine']}.",
        "",
        "| page | SQL (median ms) | server script, first / warm (ms) "
        "| URL load to data, first / warm (ms) | sidebar click to data (ms) |",
        "|---|---|---|---|---|",
    ]
    for name, sql_ms in report["sql_ms"].items():
        b = {k: "-" for k in ("server_cold_ms", "server_warm_ms", "goto_cold_ms", "goto_warm_ms")}
        b.update(report["browser_ms"].get(name, {}))
        lines.append(
            f"| {name} | {sql_ms} | {b['server_cold_ms']} / {b['server_warm_ms']} "
            f"| {b['goto_cold_ms']} / {b['goto_warm_ms']} "
            f"| {b.get('nav_ms', '-')} |"
        )
    lines += ["", "Rows: " + ", ".join(f"{k} {v:,}" for k, v in report["rows"].items() if v), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--visits", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="Keep a database filled before.")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    ids_file = Path(tempfile.gettempdir()) / "vf_dash_bench.ids.json"
    t0 = time.perf_counter()
    if args.reuse and ids_file.exists():
        ids = json.loads(ids_file.read_text())
    else:
        recreate(args.url)
        ids = fill(args.url, args.claims, args.runs)
        ids_file.write_text(json.dumps(ids))
    fill_s = time.perf_counter() - t0
    report = {
        "command": "python -m benchmarks.dashboard_load "
        + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k in ("claims", "runs")
        ),
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the start",
        "claim_verdicts": ids["counts"]["claim_verdicts"],
        "rows": ids["counts"],
        "fill_s": round(fill_s, 1),
        "sql_ms": time_sql(args.url, ids, args.repeat),
        "browser_ms": {} if args.no_browser else time_browser(args.url, ids, args.visits),
    }
    (RESULTS / "dashboard_load.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "dashboard_load.md").write_text(markdown(report))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
