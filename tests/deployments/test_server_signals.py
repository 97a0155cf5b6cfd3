"""`verdictflow server` stops its whole process tree on SIGTERM and on SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deployments.server import api_url, wait_until_healthy
from tests.deployments.servers import REPO, free_port


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_and_frees_its_port(tmp_path: Path, signum: int) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "VERDICTFLOW_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(REPO),
    }
    cli = subprocess.Popen(
        [sys.executable, "-m", "deployments.cli", "server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group, so a leak can be found and cleaned up
    )
    try:
        wait_until_healthy(api_url("127.0.0.1", port), 180, cli)
        assert _listening(port)
        cli.send_signal(signum)
        assert cli.wait(timeout=60) == 0
        deadline = time.monotonic() + 10
        while _listening(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _listening(port), "a child of the server still holds its port"
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
