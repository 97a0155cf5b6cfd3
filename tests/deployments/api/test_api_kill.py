"""Killed mid-flight: a client that hangs up halfway and a server SIGKILLed under load lose no
stored verdict and write none twice; the same requests sent again complete.

Real ``verdictflow api`` processes on SQLite and PostgreSQL. Items are persisted one at a time
(``verify.batch_items=1``) and carry many claims, so a request is seen halfway: some claim
verdicts stored, the run still running, no answer sent. Every wait polls the database or the
socket with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa

from deployments.server import stop_process_group
from tests.conftest import fresh_database
from tests.deployments.api.conftest import ApiServer, start_api
from tests.experts.test_gate import FAST
from tests.experts.tiny_models import write_registry

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# One item persisted at a time (a request is visible halfway), no rate limit (a retry storm
# of the same key must not be refused).
KILL_ENV = {"VERDICTFLOW_VERIFY__BATCH_ITEMS": "1", "VERDICTFLOW_API__RATE_PER_S": "0"}
ITEMS_PER_REQUEST = 8  # api.max_batch_items in the tests' limits
CLAIMS_PER_ITEM = 12

CONTEXT = (
    "The Fjell S1 is a portable Bluetooth speaker rated IP67. It weighs 1.1 kilograms and "
    "plays for up to 20 hours on a charge. It costs 99 euros and comes in 4 colours."
)


def _item(item_id: str, seed: int) -> dict[str, Any]:
    """An item with many short claims, some backed by its context and some not."""
    sentences = [
        f"The Fjell S1 weighs {1 + (seed + n) % 5}.1 kilograms and costs {90 + n} euros."
        for n in range(CLAIMS_PER_ITEM)
    ]
    return {"id": item_id, "text": " ".join(sentences), "context": CONTEXT}


def _request(tag: str, items: int = ITEMS_PER_REQUEST) -> dict[str, Any]:
    """A verify body of ``items`` items whose ids start with ``tag``."""
    return {"items": [_item(f"{tag}-{n}", n) for n in range(items)]}


@dataclass
class Place:
    """A database and a home that outlive the API processes started on them; the server
    now running on them is shared by the tests (a test that kills it starts the next)."""

    tmp: Path
    db_url: str
    registry: Path
    current: ApiServer | None = None

    def start(self) -> ApiServer:
        """A new ``verdictflow api`` on this database and home (the current one)."""
        self.current = start_api(self.tmp / "home", self.db_url, self.registry, extra_env=KILL_ENV)
        return self.current

    def server(self) -> ApiServer:
        """The running server, started when there is none."""
        if self.current is None or self.current.process.poll() is not None:
            return self.start()
        return self.current

    def stop(self) -> None:
        """Stop the current server, if any."""
        if self.current is not None:
            stop_process_group(self.current.process)
            self.current.repository.dispose()
            self.current = None


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def place(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A fresh SQLite file or PostgreSQL database for this module's servers."""
    tmp = tmp_path_factory.mktemp(f"kill-{request.param}")
    registry = write_registry(tmp / "registry.yaml", FAST)
    if request.param == "sqlite":
        found = Place(tmp, f"sqlite:///{tmp / 'verdictflow.db'}", registry)
        try:
            yield found
        finally:
            found.stop()
        return
    with fresh_database("verdictflow_kill") as url:
        found = Place(tmp, url, registry)
        try:
            yield found
        finally:
            found.stop()


def _rows(engine: sa.Engine, sql: str, **params: Any) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params).all()]


def _runs_of(engine: sa.Engine, tag: str) -> set[str]:
    """The runs holding items tagged ``tag`` (the runs the requests opened)."""
    found = _rows(engine, "SELECT DISTINCT run_id FROM items WHERE item_id LIKE :p", p=f"{tag}-%")
    return {r[0] for r in found}


def _claim_verdicts(engine: sa.Engine) -> dict[tuple[str, str], tuple]:
    """Every stored claim verdict: (run, claim) -> what it says."""
    rows = _rows(
        engine,
        "SELECT run_id, claim_id, item_id, label, p_supported, p_contradicted, p_nei "
        "FROM claim_verdicts",
    )
    return {(r[0], r[1]): r[2:] for r in rows}


def _item_verdicts(engine: sa.Engine) -> dict[tuple[str, str], tuple]:
    rows = _rows(engine, "SELECT run_id, item_id, label, p_supported, n_claims FROM item_verdicts")
    return {(r[0], r[1]): r[2:] for r in rows}


def _twice(engine: sa.Engine) -> list[tuple]:
    """(table, run, id, copies) of every verdict stored more than once."""
    found = []
    for table, column in (
        ("claim_verdicts", "claim_id"),
        ("item_verdicts", "item_id"),
        ("claims", "claim_id"),
        ("items", "item_id"),
    ):
        sql = (
            f"SELECT run_id, {column}, COUNT(*) FROM {table} "
            f"GROUP BY run_id, {column} HAVING COUNT(*) > 1"
        )
        found += [(table, *r) for r in _rows(engine, sql)]
    return found


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s} s")
        time.sleep(0.02)


def _halfway(engine: sa.Engine, tag: str, runs: int = 1) -> Callable[[], bool]:
    """True once ``runs`` runs of ``tag`` are open and one holds a claim verdict."""

    def check() -> bool:
        found = _runs_of(engine, tag)
        if len(found) < runs:
            return False
        marks = ", ".join(f":r{n}" for n in range(len(found)))
        params = {f"r{n}": r for n, r in enumerate(sorted(found))}
        sql = f"SELECT COUNT(*) FROM claim_verdicts WHERE run_id IN ({marks})"
        return _rows(engine, sql, **params)[0][0] > 0

    return check


def _raw_post(url: str, key: str, body: bytes) -> socket.socket:
    """A POST /v1/verify written to a socket of its own, its answer not read."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    head = (
        f"POST /v1/verify HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def _nothing_answered(sock: socket.socket) -> bool:
    """Whether no byte of an answer has arrived on the socket yet."""
    sock.setblocking(False)
    try:
        sock.recv(1)  # an answer's first byte, or b"" for a closed connection: not in flight
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)
    return False


def _hang_up(sock: socket.socket) -> None:
    """Close at once, with a reset (no graceful shutdown)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


def _complete(run: dict[str, Any], answered: dict[str, Any]) -> int:
    """A stored run holds a verdict for every item, as answered; returns its claims."""
    assert run["status"] == "completed", run["status"]
    assert len(run["verdicts"]) == ITEMS_PER_REQUEST
    assert run["verdicts"] == answered["verdicts"]
    claims = sum(len(v["claims"]) for v in run["verdicts"])
    assert claims >= ITEMS_PER_REQUEST * CLAIMS_PER_ITEM // 2  # many claims, split as sent
    return claims


def test_a_client_hanging_up_mid_request_loses_nothing_and_the_retry_completes(
    place: Place,
) -> None:
    tag = f"hangup-{uuid.uuid4().hex[:8]}"
    body = _request(tag)
    server = place.server()
    engine = server.repository.engine
    key = server.key("verify", "read")
    with server.client(key) as client:  # a run stored before: it must stay as it is
        earlier = client.post("/v1/verify", json=_request(f"before-{tag}", items=2))
        assert earlier.status_code == 200, earlier.text
    stored_before = _claim_verdicts(engine)

    sock = _raw_post(server.url, key, json.dumps(body).encode())
    _wait_for(_halfway(engine, tag), "a claim verdict of the request stored")
    [run_id] = _runs_of(engine, tag)
    assert _nothing_answered(sock), "the request was answered before the client hung up"
    status = _rows(engine, "SELECT status FROM runs WHERE run_id = :r", r=run_id)[0][0]
    assert status == "running"  # halfway indeed
    _hang_up(sock)
    at_hang_up = _claim_verdicts(engine)
    halfway = sum(1 for r, _c in at_hang_up if r == run_id)

    with server.client(key) as client:
        again = client.post("/v1/verify", json=body)
        assert again.status_code == 200, again.text + server.log_tail()
        assert again.json()["run_id"] == run_id  # the same run, resumed
        claims = _complete(client.get(f"/v1/runs/{run_id}").json(), again.json())
        assert 0 < halfway < claims  # the hang-up came halfway through the run
        assert client.get("/readyz").status_code == 200  # the server carried on

    after = _claim_verdicts(engine)
    assert _twice(engine) == []
    lost = {k: v for k, v in at_hang_up.items() if after.get(k) != v}
    assert lost == {}, f"{len(lost)} stored claim verdicts changed or vanished"
    assert all(after[k] == v for k, v in stored_before.items())
    assert sum(1 for r, _c in after if r == run_id) == claims
    answered = again.json()["verdicts"]
    assert {v["id"] for v in answered} == {i["id"] for i in body["items"]}


def test_a_server_sigkilled_under_load_loses_nothing_and_the_same_requests_complete(
    place: Place,
) -> None:
    tag = f"kill-{uuid.uuid4().hex[:8]}"
    bodies = [_request(f"{tag}-{n}") for n in range(4)]
    outcomes: dict[int, Any] = {}
    server = place.server()
    try:
        engine = server.repository.engine
        key = server.key("verify", "read")
        with server.client(key) as client:
            earlier = client.post("/v1/verify", json=_request(f"before-{tag}", items=2))
            assert earlier.status_code == 200, earlier.text
        stored_before = _claim_verdicts(engine), _item_verdicts(engine)

        def send(n: int) -> None:
            try:
                with server.client(key) as client:
                    outcomes[n] = client.post("/v1/verify", json=bodies[n])
            except httpx.TransportError as exc:  # the server died under it
                outcomes[n] = exc

        threads = [threading.Thread(target=send, args=(n,)) for n in range(len(bodies))]
        for thread in threads:
            thread.start()
        _wait_for(_halfway(engine, tag, runs=len(bodies)), "every request's run open")
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=30)
        for thread in threads:
            thread.join(timeout=60)
        at_kill = _claim_verdicts(engine), _item_verdicts(engine)
        cut = [n for n, got in outcomes.items() if isinstance(got, httpx.TransportError)]
        assert cut, f"no request was in flight when the server was killed: {outcomes}"
        assert server.process.returncode == -signal.SIGKILL
    finally:
        place.stop()

    runs = _runs_of(engine, tag)
    assert len(runs) == len(bodies)
    expected = 0
    again = place.start()
    engine = again.repository.engine
    with again.client(key) as client:
        for n, body in enumerate(bodies):
            response = client.post("/v1/verify", json=body)
            assert response.status_code == 200, (n, response.text, again.log_tail())
            run_id = response.json()["run_id"]
            assert run_id in runs  # each resumed its own run
            expected += _complete(client.get(f"/v1/runs/{run_id}").json(), response.json())
    claims_after, items_after = _claim_verdicts(engine), _item_verdicts(engine)
    assert _twice(engine) == []
    for before, after in ((stored_before[0], claims_after), (at_kill[0], claims_after)):
        lost = {k: v for k, v in before.items() if after.get(k) != v}
        assert lost == {}, f"{len(lost)} stored claim verdicts changed or vanished"
    for before in (stored_before[1], at_kill[1]):
        assert {k: v for k, v in before.items() if items_after.get(k) != v} == {}
    assert sum(1 for r, _c in claims_after if r in runs) == expected
    statuses = _rows(engine, "SELECT run_id, status FROM runs")
    assert {s for r, s in statuses if r in runs} == {"completed"}
