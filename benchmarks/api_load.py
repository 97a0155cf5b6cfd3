"""Load on ``verdictflow api`` over loopback, beside the bare forward pass of its generalist.

    python -m benchmarks.api_load [--seconds 20] [--backends torch,onnx]
        [--concurrency 1,8,32] [--context-words N] [--json out.json]

1. Bare forward pass of the generalist (``nli-general``) on the pairs the pipeline builds for
   the workload's one-claim items (claim, window of its context): pairs/s with torch fp32,
   ONNX fp32 and ONNX int8.
2. Per backend, a real server (subprocess, PostgreSQL, a fresh home, the shipped models, rate
   limit off) and closed-loop clients: each of C threads posts one new one-claim item at a
   time for ``--seconds``. Phases: items with their context; the same without context (the
   corpus, ingested first through ``POST /v1/documents``); with context and ``quality=true``.
   Each phase gives requests/s, claims/s, p50/p95 latency and the errors. An item with
   context is about a product not asked about before (its context is embedded in the
   request, not found in the server's caches), cut to its first ``--context-words`` words
   when given; one without is about an ingested product.

The client threads share the server's two cores: the figures are the machine's, client
included.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_ids = itertools.count()
CORPUS_DOCS = 400  # products ingested for the phase without context
CONTEXT_WORDS: int | None = None  # --context-words


def _items(n: int, with_context: bool) -> list[dict]:
    """``n`` new one-claim items (unique ids, true and false in turn): with context, each
    about a product not asked about before in this process; without, about an ingested one."""
    from benchmarks import workload

    out = []
    for _ in range(n):
        k = next(_ids)
        product = k % workload.PRODUCTS if with_context else k % CORPUS_DOCS
        j = 1_000_000 + k * workload.PRODUCTS + product  # workload's product j % PRODUCTS
        (item,) = workload.items(1, offset=j, with_context=with_context)
        if with_context and CONTEXT_WORDS:
            item["context"] = " ".join(item["context"].split()[:CONTEXT_WORDS])
        out.append(item)
    return out


def bare_forward(backends: list[str], n: int = 256) -> dict:
    """Generalist pairs/s per backend on the pipeline's pairs for ``n`` workload items."""
    from experts.registry import load_registry
    from experts.verifiers.cross_encoder import CrossEncoderExpert
    from tasks import stages

    items, _ = stages.read_items(None, _items(n, True))
    claims = stages.claims_of(items)
    evidence = stages.evidence_for(claims)
    pairs = [(c.text, e.text) for c in claims for e in evidence[c.claim_id]]
    spec = next(s for s in load_registry() if s.name == "nli-general")
    out = {"pairs": len(pairs), "pairs_per_claim": round(len(pairs) / len(claims), 2)}
    for backend in backends:
        expert = CrossEncoderExpert(spec.weights, name=spec.name, backend=backend)
        expert.predict(pairs[:32])
        started = time.perf_counter()
        expert.predict(pairs)
        out[backend] = round(len(pairs) / (time.perf_counter() - started), 1)
    return out


@contextmanager
def database():
    """A fresh PostgreSQL database; dropped afterwards."""
    import sqlalchemy as sa

    name = f"vf_api_load_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def server(home: Path, db_url: str, backend: str):
    """``verdictflow api`` on a free port with ``backend``; yields its URL once ready."""
    from deployments.server import stop_process_group

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ)
    env.update(
        {
            "VERDICTFLOW_HOME": str(home),
            "VERDICTFLOW_DATABASE_URL": db_url,
            "VERDICTFLOW_EXPERTS__BACKEND": backend,
            "VERDICTFLOW_API__RATE_PER_S": "1000000",
            "VERDICTFLOW_API__RATE_BURST": "1000000",
            "VERDICTFLOW_DASK__USE_DASK": "false",
            "PREFECT_HOME": str(home / "prefect"),
            "PYTHONPATH": str(REPO),
        }
    )
    log = open(home / f"api-{backend}.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "deployments.cli", "api", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"api exited {process.returncode}: see {log.name}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        yield url, round(time.monotonic() - started, 1)
    finally:
        stop_process_group(process)
        log.close()


def load(url: str, key: str, concurrency: int, seconds: float, context: bool, quality: bool):
    """Closed-loop load: ``concurrency`` threads posting one new item at a time."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    claims = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    params = {"quality": "true"} if quality else {}

    def worker() -> None:
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ) as client:
            while time.monotonic() < stop:
                item = _items(1, context)[0]
                started = time.perf_counter()
                response = client.post("/v1/verify", json=item, params=params)
                took = time.perf_counter() - started
                status = str(response.status_code)
                with lock:
                    if status == "200":
                        latencies.append(took)
                        claims[0] += response.json()["counts"].get("claims", 0)
                    else:
                        errors[status] = errors.get(status, 0) + 1

    began = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - began
    ms = np.array(latencies) * 1000
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / wall, 1),
        "claims_per_s": round(claims[0] / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
        "p95_ms": round(float(np.percentile(ms, 95)), 1) if len(ms) else None,
        "errors": errors,
    }


def run(backends: list[str], levels: list[int], seconds: float) -> dict:
    """The bare forward pass, then each backend's phases."""
    from benchmarks import workload
    from storage.access import AccessStore
    from storage.repository import repository_for

    home = Path(os.environ["VERDICTFLOW_HOME"])
    bare = bare_forward(["torch", "onnx", "onnx-int8"])
    out: dict = {"seconds_per_level": seconds, "bare_forward": bare}
    print("bare forward", json.dumps(out["bare_forward"]), flush=True)
    for backend in backends:
        with database() as db_url:
            repo = repository_for(db_url)
            key, _ = AccessStore(repo).create_key("bench", ["admin"])
            with server(home, db_url, backend) as (url, start_s):
                result: dict = {"start_s": start_s}
                docs = [
                    {"id": f"product-{i:05d}", "text": workload.document(i)}
                    for i in range(CORPUS_DOCS)
                ]
                with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=600) as c:
                    for start in range(0, len(docs), 200):
                        c.post("/v1/documents", json={"documents": docs[start : start + 200]})
                phases = {
                    "context": (True, False),
                    "corpus": (False, False),
                    "context_quality": (True, True),
                }
                for phase, (context, quality) in phases.items():
                    load(url, key, 2, 3, context, quality)  # warm this path
                    result[phase] = [load(url, key, c, seconds, context, quality) for c in levels]
                    for row in result[phase]:
                        print(backend, phase, json.dumps(row), flush=True)
            repo.engine.dispose()
            out[backend] = result
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--backends", default="torch,onnx", help="Backends the API serves with.")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument(
        "--context-words", type=int, default=None, help="Cut each context to its first N words."
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    global CONTEXT_WORDS
    CONTEXT_WORDS = args.context_words
    # One home for the run: the ONNX files are exported once, the servers share them.
    os.environ["VERDICTFLOW_HOME"] = tempfile.mkdtemp(prefix="api-load-")
    result = run(
        args.backends.split(","), [int(c) for c in args.concurrency.split(",")], args.seconds
    )
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
