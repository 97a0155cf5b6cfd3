"""`verdictflow api` says "ready", with its address, once its models are loaded and it
answers: a real server in a subprocess, its terminal output read as a person reads it."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from deployments.server import stop_process_group
from tests.deployments.api.conftest import ApiServer, server_env
from tests.deployments.servers import REPO, free_port
from tests.experts.test_gate import FAST
from tests.experts.tiny_models import write_registry


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_api_says_ready_with_its_address_once_it_answers(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    registry = write_registry(tmp_path / "registry.yaml", FAST)
    db_url = f"sqlite:///{tmp_path / 'verdictflow.db'}"
    port, log = free_port(), home / "api.log"
    command = [sys.executable, "-m", "deployments.cli", "api", "--host", "127.0.0.1"]
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=REPO,
            env=server_env(home, db_url, registry),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = ApiServer(f"http://127.0.0.1:{port}", db_url, home, log, process)
    try:
        deadline = time.monotonic() + 240
        while "ready" not in log.read_text(errors="replace"):
            assert process.poll() is None, f"api exited {process.returncode}\n{server.log_tail()}"
            assert time.monotonic() < deadline, f"never said ready\n{server.log_tail()}"
            time.sleep(0.2)
        # Said ready: it answers at once, with its models loaded.
        with server.client(server.key("read")) as client:
            answer = client.get("/readyz")
        assert answer.status_code == 200, answer.text
        assert answer.json()["models_loaded"] is True
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
        said = log.read_text(errors="replace")
        loading = said.index("loading models")
        [ready] = re.findall(
            r"^verdictflow api ready on (\S+) \(models loaded in [\d.]+ s\)$", said, re.M
        )
        assert ready == server.url
        assert said.index("verdictflow api ready") > loading
    finally:
        stop_process_group(process)
