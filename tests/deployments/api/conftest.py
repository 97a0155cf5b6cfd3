"""A real ``verdictflow api`` in a subprocess, on SQLite and on PostgreSQL, for the API tests.

One server per database for the whole session (the models load once, as in production);
tests make their own keys (``ApiServer.key``) so that rate limits never cross tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from deployments.server import stop_process_group
from tests.conftest import fresh_database
from tests.deployments.servers import REPO, free_port
from tests.experts.test_gate import FAST
from tests.experts.tiny_models import write_registry

# Small limits, so the tests reach them quickly.
LIMITS = {
    "VERDICTFLOW_API__KEY_CACHE_S": "0",  # a revoked key is refused at once
    "VERDICTFLOW_API__RATE_PER_S": "0.5",
    "VERDICTFLOW_API__RATE_BURST": "12",
    "VERDICTFLOW_API__MAX_BODY_BYTES": "65536",
    "VERDICTFLOW_API__MAX_BATCH_ITEMS": "8",
    # Concurrent requests wait long for each other's pairs (a lone one never waits).
    "VERDICTFLOW_API__BATCH_WAIT_MS": "5000",
}


@dataclass
class ApiServer:
    """A running API: its URL, database, home and log."""

    url: str
    db_url: str
    home: Path
    log: Path
    process: subprocess.Popen

    @property
    def store(self):
        """The keys and audit log of the server's database, read from this process."""
        from storage.access import AccessStore
        from storage.repository import repository_for

        return AccessStore(repository_for(self.db_url))

    @property
    def repository(self):
        """The server's database, read from this process."""
        from storage.repository import repository_for

        return repository_for(self.db_url)

    def key(self, *scopes: str, name: str = "test") -> str:
        """A new key with these scopes."""
        return self.store.create_key(name, scopes)[0]

    def client(self, key: str | None = None, **kwargs) -> httpx.Client:
        """An HTTP client of the server, sending ``key`` as a bearer token."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120, **kwargs)

    def log_tail(self) -> str:
        """The end of the server's log (for failure messages)."""
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def server_env(
    home: Path, db_url: str, registry: Path, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of an API subprocess: its own home and database, the fast experts
    (``extra`` overrides, e.g. a PREFECT_API_URL or other limits)."""
    env = dict(os.environ)
    env.update(
        {
            "VERDICTFLOW_HOME": str(home),
            "VERDICTFLOW_DATABASE_URL": db_url,
            "VERDICTFLOW_EXPERTS__REGISTRY": str(registry),
            "VERDICTFLOW_DASK__USE_DASK": "false",
            "PREFECT_HOME": str(home / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONPATH": str(REPO),
            **LIMITS,
            **(extra or {}),
        }
    )
    return env


def start_api(
    home: Path,
    db_url: str,
    registry: Path,
    timeout_s: float = 180,
    extra_env: dict[str, str] | None = None,
) -> ApiServer:
    """``verdictflow api`` on a free port, once /healthz answers (``extra_env``: see
    ``server_env``)."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = home / "api.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "deployments.cli", "-v", "api", "--port", str(port)],
            cwd=REPO,
            env=server_env(home, db_url, registry, extra_env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = ApiServer(f"http://127.0.0.1:{port}", db_url, home, log, process)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"verdictflow api exited {process.returncode}\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    stop_process_group(process)
    raise RuntimeError(f"verdictflow api did not answer in {timeout_s} s\n{server.log_tail()}")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def api_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """A running API on SQLite, then on PostgreSQL (a fresh database)."""
    tmp = tmp_path_factory.mktemp(f"api-{request.param}")
    registry = write_registry(tmp / "registry.yaml", FAST)
    if request.param == "sqlite":
        server = start_api(tmp / "home", f"sqlite:///{tmp / 'verdictflow.db'}", registry)
        try:
            yield server
        finally:
            stop_process_group(server.process)
        return
    with fresh_database("verdictflow_api") as url:
        server = start_api(tmp / "home", url, registry)
        try:
            yield server
        finally:
            stop_process_group(server.process)
            server.repository.dispose()
