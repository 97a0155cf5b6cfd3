"""Real Prefect servers and serve processes for the orchestration tests (subprocesses)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deployments.server import api_url, start_server, stop_process_group, wait_until_healthy

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def prefect_server(
    tmp: Path, database_url: str | None = None, timeout_s: float = 180
) -> Iterator[str]:
    """A Prefect server on a free port with its own PREFECT_HOME; yields its API URL."""
    port = free_port()
    log = tmp / "prefect-server.log"
    process = start_server(
        "127.0.0.1", port, database_url, prefect_home=tmp / "prefect-home", log_path=log
    )
    url = api_url("127.0.0.1", port)
    try:
        try:
            wait_until_healthy(url, timeout_s, process)
        except Exception as exc:
            raise RuntimeError(f"{exc}\n{log.read_text(errors='replace')[-3000:]}") from exc
        yield url
    finally:
        stop_process_group(process)


def client_env(api: str, home: Path, **extra: str) -> dict[str, str]:
    """Environment of a process that talks to ``api`` and keeps verdictflow state in ``home``."""
    env = dict(os.environ)
    env.update(
        {
            "PREFECT_API_URL": api,
            "PREFECT_HOME": str(home / "prefect-client"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "VERDICTFLOW_HOME": str(home),
            "VERDICTFLOW_DASK__USE_DASK": "false",
            "PYTHONPATH": str(REPO),
            **extra,
        }
    )
    return env


@contextmanager
def serve_process(api: str, home: Path, log: Path, **extra: str) -> Iterator[subprocess.Popen]:
    """``serve_all()`` of prefect.yaml in a subprocess against ``api``."""
    code = "from deployments.catalog import serve_all; serve_all()"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=REPO,
            env=client_env(api, home, **extra),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop_process_group(process)


def run_async(coro: Any) -> Any:
    """Run a coroutine on a fresh loop (the test process may have Prefect's loop elsewhere)."""
    return asyncio.run(coro)


async def wait_for_deployments(api: str, names: set[str], timeout_s: float = 180) -> dict:
    """``{deployment name: deployment}`` once all ``names`` are registered on the server."""
    from prefect.client.orchestration import PrefectClient

    deadline = time.monotonic() + timeout_s
    async with PrefectClient(api=api) as client:
        while True:
            found = {d.name: d for d in await client.read_deployments()}
            if names <= set(found) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(1)


async def wait_for_flow_run(
    api: str,
    deployment_id: Any,
    timeout_s: float = 300,
    after: Any = None,
    parameters: dict | None = None,
) -> Any:
    """The first flow run of a deployment (created after ``after``, with these parameters)
    once it is final."""
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    deadline = time.monotonic() + timeout_s
    async with PrefectClient(api=api) as client:
        while time.monotonic() < deadline:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            )
            runs = [
                r
                for r in runs
                if (after is None or r.created > after)
                and all(r.parameters.get(k) == v for k, v in (parameters or {}).items())
            ]
            final = [r for r in runs if r.state is not None and r.state.is_final()]
            if final:
                return final[0]
            await asyncio.sleep(1)
    raise TimeoutError(f"no finished flow run of deployment {deployment_id} in {timeout_s}s")


async def wait_for_run(api: str, flow_run_id: Any, timeout_s: float = 300) -> Any:
    """A flow run once it is final."""
    from prefect.client.orchestration import PrefectClient

    deadline = time.monotonic() + timeout_s
    async with PrefectClient(api=api) as client:
        while time.monotonic() < deadline:
            run = await client.read_flow_run(flow_run_id)
            if run.state is not None and run.state.is_final():
                return run
            await asyncio.sleep(1)
    raise TimeoutError(f"flow run {flow_run_id} not finished in {timeout_s}s")
