"""`verdictflow serve` stops cleanly on SIGTERM and on SIGINT: exit 0, no "never awaited".

Also when it inherits SIGINT ignored, as every process started from a non-interactive shell's
background job does (``make test &``, CI, ``nohup``): the full suite run that way once saw
serve go on through SIGINT, while the same test passed when run alone from a terminal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.deployments.servers import REPO, client_env, prefect_server


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    """One Prefect server for the module's serve processes."""
    with prefect_server(tmp_path_factory.mktemp("serve-signals")) as url:
        yield url


def _wait_for(path: Path, text: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"serve never said {text!r} (exit {process.poll()}):\n{path.read_text()}")
        time.sleep(0.5)


# Starts ``python -m deployments.cli ARGS`` with SIGINT set to a disposition first: exec keeps
# an ignored signal ignored (and a default one default), as a shell's background job does.
LAUNCH = (
    "import os, signal, sys; signal.signal(signal.SIGINT, getattr(signal, sys.argv[1])); "
    "os.execv(sys.executable, [sys.executable, '-m', 'deployments.cli', *sys.argv[2:]])"
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "inherited"),
    [
        (signal.SIGTERM, "default"),
        (signal.SIGINT, "default"),
        (signal.SIGINT, "ignored"),
    ],
    ids=["SIGTERM", "SIGINT", "SIGINT-inherited-ignored"],
)
def test_serve_stops_on_a_signal_without_an_unawaited_coroutine(
    api: str, tmp_path: Path, signum: int, inherited: str
) -> None:
    home = tmp_path / "home"
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    # Whatever this test process inherited, serve starts with the disposition the case names
    # (the default one too, so that a suite run in the background still tests that case).
    disposition = "SIG_IGN" if inherited == "ignored" else "SIG_DFL"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        serve = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, disposition, "serve", "-d", "calibrate"],
            cwd=REPO,
            env=client_env(api, home),
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        _wait_for(out, "being served", serve, 180)
        time.sleep(2)  # the runner's loop is polling
        serve.send_signal(signum)
        # Shutting down cancels the runner's loops and closes its client: slow on a loaded
        # 2-core machine (67 s once beside a benchmark), a second on a quiet one.
        assert serve.wait(timeout=180) == 0
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
    log = home / "logs" / "verdictflow.log"  # where warnings go without -v
    said = err.read_text(errors="replace")
    said += log.read_text(errors="replace") if log.exists() else ""
    assert "never awaited" not in said, said
    assert "shutting down" in said
