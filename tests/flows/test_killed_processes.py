"""A process that dies halfway (SIGKILL, not an exception), run again, completes.

Real ``verdictflow verify`` and ``verdictflow ingest`` processes (the installed CLI) on a fresh
PostgreSQL database, against the session's Prefect API; each is killed, with its whole process
group, once some of its batches are stored, then run again to the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import fresh_database
from tests.experts.tiny_models import write_registry

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "verdictflow"
# Rule experts only: the run is quick, the Prefect task runs per batch give it its length.
FAST = [
    {"name": "numbers", "kind": "numbers", "patterns": [r"\d"], "prior": 0.5},
    {"name": "negation", "kind": "negation", "keywords": ["not", "never"], "prior": 0.5},
]
CITIES = ["Paris", "Lyon", "Berlin", "Madrid", "Rome", "Vienna", "Oslo", "Lisbon"]


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database("verdictflow_kill") as url:
        yield url


@pytest.fixture
def cli_env(prefect_harness, database: str, tmp_path: Path) -> dict[str, str]:
    """The CLI's environment: its own home, the fresh database, the session's Prefect API."""
    from prefect.settings import PREFECT_API_URL

    registry = write_registry(tmp_path / "fast.yaml", FAST)
    env = dict(os.environ)
    env.update(
        VERDICTFLOW_HOME=str(tmp_path / "home"),
        VERDICTFLOW_DATABASE_URL=database,
        VERDICTFLOW_EXPERTS__REGISTRY=str(registry),
        VERDICTFLOW_DASK__USE_DASK="false",
        VERDICTFLOW_ORCHESTRATION__FLOW_RETRIES="0",
        PREFECT_API_URL=PREFECT_API_URL.value(),
        PYTHONPATH=str(REPO),
    )
    return env


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [str(CLI), *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the kill takes every child with it
        )


def _kill_when(process: subprocess.Popen, ready: Callable[[], bool], log: Path) -> None:
    """SIGKILL the process group as soon as ``ready()``; fail if the process ends first."""
    deadline = time.monotonic() + 300
    while not ready():
        if process.poll() is not None:
            pytest.fail(f"finished (exit {process.returncode}) before the kill:\n{_tail(log)}")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"never got to the kill point:\n{_tail(log)}")
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(30) == -signal.SIGKILL


def _run(args: list[str], env: dict[str, str], log: Path) -> None:
    process = _start(args, env, log)
    assert process.wait(300) == 0, _tail(log)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def _scalar(engine: sa.Engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar() or 0


def _count(engine: sa.Engine, table: str) -> int:
    try:
        return _scalar(engine, f"SELECT count(*) FROM {table}")
    except sa.exc.ProgrammingError:  # not migrated yet
        return 0


def test_a_killed_verify_process_completes_when_run_again(cli_env, database, tmp_path):
    n = 24
    items = [
        {
            "id": f"city-{i}",
            "text": f"{CITIES[i % 8]} had {1000 + i} residents in 2010.",
            "context": f"In 2010 {CITIES[i % 8]} had {1000 + i + (i % 2)} residents.",
        }
        for i in range(n)
    ]
    source = tmp_path / "items.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in items))
    env = {
        **cli_env,
        "VERDICTFLOW_VERIFY__BATCH_ITEMS": "2",
        "VERDICTFLOW_VERIFY__FAST_PATH_MAX_ITEMS": "0",  # a flow run, batch by batch
    }
    out, log = tmp_path / "out.jsonl", tmp_path / "verify.log"
    engine = sa.create_engine(database)
    try:
        process = _start(["verify", str(source), "--output", str(out)], env, log)
        _kill_when(process, lambda: _count(engine, "item_verdicts") >= 4, log)
        [(run_id, status)] = _rows(engine, "SELECT run_id, status FROM runs")
        stored = _count(engine, "item_verdicts")
        assert status == "running" and 4 <= stored < n  # it died mid-run, some batches in

        _run(["verify", str(source), "--output", str(out)], env, log)
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert [r["id"] for r in rows] == [r["id"] for r in items]  # complete, in order
        assert {r["run_id"] for r in rows} == {run_id}  # the same run, resumed
        assert _rows(engine, "SELECT status FROM runs") == [("completed",)]
        # No row stored twice: one item, verdict, claim per record, evidence as reported.
        claims = sum(len(r["claims"]) for r in rows)
        assert _count(engine, "items") == _count(engine, "item_verdicts") == n
        assert _count(engine, "claims") == _count(engine, "claim_verdicts") == claims
        distinct = "SELECT count(DISTINCT (run_id, item_id)) FROM item_verdicts"
        assert _scalar(engine, distinct) == n
        evidence = sum(len(c["evidence"]) for r in rows for c in r["claims"])
        assert _count(engine, "evidence") == evidence
        # The rule experts read the numbers: odd records are contradicted, even supported.
        verdicts = {r["id"]: r["verdict"] for r in rows}
        assert {verdicts[f"city-{i}"] for i in range(0, n, 2)} == {"supported"}
        assert {verdicts[f"city-{i}"] for i in range(1, n, 2)} == {"contradicted"}
    finally:
        engine.dispose()


def _rows(engine: sa.Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql)).all()]


def test_a_killed_ingest_process_completes_when_run_again(cli_env, database, tmp_path):
    from retrieval.store import ChunkStore

    n = 200  # one LanceDB commit each: long enough to be killed in the middle
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(n):
        text = " ".join(
            f"{CITIES[i % 8]} district {i} has {100 + j} parks and {j} bridges." for j in range(3)
        )
        (docs / f"doc-{i:02d}.txt").write_text(text, encoding="utf-8")
    env = {**cli_env, "VERDICTFLOW_RETRIEVAL__INGEST_BATCH_DOCS": "1"}
    store = ChunkStore(Path(env["VERDICTFLOW_HOME"]) / "lancedb")
    log = tmp_path / "ingest.log"
    engine = sa.create_engine(database)
    try:
        process = _start(["ingest", str(docs)], env, log)
        # Batches are LanceDB commits (the documents table is written at the end).
        # Killed after a few commits: LanceDB writes one manifest per table version (read
        # from the folder: a LanceDB reader polling here lagged behind the writer).
        versions = Path(env["VERDICTFLOW_HOME"]) / "lancedb" / "chunks.lance" / "_versions"
        _kill_when(process, lambda: len(list(versions.glob("*.manifest"))) >= 4, log)
        [(killed, status)] = _rows(engine, "SELECT run_id, status FROM runs")
        assert status == "running" and 1 <= len(store.documents()) < n
        assert _count(engine, "documents") == 0

        _run(["ingest", str(docs)], env, log)
        stored = store.documents()
        assert sorted(stored) == sorted(p.name for p in docs.iterdir())
        # No chunk stored twice: as many rows as distinct chunk ids, each document's as many
        # as a fresh chunking of its text gives.
        chunks = store.get_chunks()
        assert len(chunks) == len({c.chunk_id for c in chunks}) == store.count()
        from retrieval.chunking import chunk_text

        for path in docs.iterdir():
            expected = chunk_text(path.read_text(encoding="utf-8"), path.name, source=str(path))
            assert stored[path.name]["n_chunks"] == len(expected), path.name
        assert _rows(engine, "SELECT count(*), count(DISTINCT doc_id) FROM documents") == [(n, n)]
        # The re-run of the same files resumed the killed run's record and closed it: one
        # run, completed, never left "running".
        runs = dict(_rows(engine, "SELECT run_id, status FROM runs"))
        assert runs == {killed: "completed"}, runs
    finally:
        engine.dispose()
