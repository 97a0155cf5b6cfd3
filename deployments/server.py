"""Start a Prefect server: SQLite by default, PostgreSQL when configured.

``VERDICTFLOW_ORCHESTRATION__SERVER_DATABASE_URL`` (or Prefect's own
``PREFECT_SERVER_DATABASE_CONNECTION_URL``) points the server at PostgreSQL; verdictflow's
``postgresql+psycopg://`` form is turned into the ``postgresql+asyncpg://`` the server needs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from verdictflow.config import Settings, get_settings

DB_ENV = "PREFECT_SERVER_DATABASE_CONNECTION_URL"


def async_database_url(url: str) -> str:
    """A PostgreSQL or SQLite URL in the async driver form the Prefect server uses."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r} (rule: url)")
    base = scheme.split("+", 1)[0]
    if base in {"postgresql", "postgres"}:
        return f"postgresql+asyncpg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(f"Prefect server needs PostgreSQL or SQLite, not {base!r} (rule: dialect)")


def server_command(
    host: str | None = None,
    port: int | None = None,
    database_url: str | None = None,
    settings: Settings | None = None,
    env: dict[str, str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The ``prefect server start`` command line and environment for these settings."""
    settings = settings or get_settings()
    orchestration = settings.orchestration
    env = dict(os.environ if env is None else env)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.pop("PREFECT_API_URL", None)  # the server is the API; it must not call another one
    host = host or orchestration.server_host
    port = port or orchestration.server_port
    # The UI's browser code calls the API at this URL: the real port, not Prefect's 4200.
    env.setdefault("PREFECT_SERVER_UI_API_URL", api_url(host, port))
    database_url = database_url or orchestration.server_database_url
    if database_url:
        env[DB_ENV] = async_database_url(database_url)
    argv = [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        host,
        "--port",
        str(port),
        "--no-background",
    ]
    return argv, env


def api_url(host: str, port: int) -> str:
    """The API URL clients use for a server on host:port."""
    host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
    return f"http://{host}:{port}/api"


def wait_until_healthy(url: str, timeout_s: float = 120.0, process: subprocess.Popen | None = None):
    """Poll ``url``/health until the server answers; raise with the reason if it never does."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"Prefect server exited with code {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.5)
    raise TimeoutError(f"Prefect server at {url} not healthy after {timeout_s:.0f}s: {last}")


def start_server(
    host: str | None = None,
    port: int | None = None,
    database_url: str | None = None,
    prefect_home: Path | None = None,
    log_path: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """Start a Prefect server in a subprocess (its own process group); returns the process."""
    argv, env = server_command(host, port, database_url)
    if prefect_home is not None:
        env["PREFECT_HOME"] = str(prefect_home)
    env.update(extra_env or {})
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop_process_group(process: subprocess.Popen, grace_s: float = 20.0) -> None:
    """SIGTERM to the process's whole group (it was started in a session of its own), then
    SIGKILL to what is still there after ``grace_s``: no child is left holding the port."""
    import signal

    group = process.pid  # a session leader: its pid is the group's id, even once it is gone
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
