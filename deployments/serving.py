"""Serve deployments in this process until SIGTERM or SIGINT, and stop cleanly on either.

``prefect.serve`` would do, but its runner's SIGTERM handler calls the sync ``Runner.stop()``
from inside the running event loop, where Prefect's ``async_dispatch`` hands back the
``astop()`` coroutine instead of running it: the runner is never stopped, the process leaves
through ``sys.exit`` and Python warns "coroutine 'Runner.astop' was never awaited". The
runner here schedules ``astop()`` on its loop instead, so SIGTERM stops it as Ctrl-C does.

SIGINT is set to raise ``KeyboardInterrupt`` before serving, whatever the process inherited: a
process started from a non-interactive shell's background job (``make test &``, a CI step,
``nohup``) inherits SIGINT *ignored*, Python then installs no handler, and serve would go on
serving through every SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Sequence
from typing import Any

from prefect.logging import get_logger
from prefect.runner import Runner

log = get_logger("serve")  # "prefect.serve": logged where Prefect's own logs go


class StoppingRunner(Runner):
    """A Prefect ``Runner`` whose SIGTERM stops it: ``astop()`` runs on the runner's loop."""

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        """Stop polling and cancel the runs in flight; ``start()`` then returns."""
        self._logger.info("SIGTERM received, shutting down...")
        try:
            loop = asyncio.get_running_loop()  # the handler runs on the loop's (main) thread
        except RuntimeError:
            raise SystemExit(0) from None  # the loop has already finished: nothing to stop
        # call_soon_threadsafe wakes the loop's selector, which a signal alone does not.
        loop.call_soon_threadsafe(self._schedule_stop, loop)

    def _schedule_stop(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.started:
            self._stop_task = loop.create_task(self.astop())


def serve_deployments(deployments: Sequence[Any], limit: int | None) -> None:
    """Serve ``deployments`` (``RunnerDeployment``s) until SIGTERM or SIGINT.

    Args:
        deployments: The deployments to register and serve.
        limit: At most this many flow runs at once (None: no limit).
    """
    runner = StoppingRunner(pause_on_shutdown=False, limit=limit)
    for deployment in deployments:
        runner.add_deployment(deployment)
    print(start_message(deployments), flush=True)
    honour_sigint()
    try:
        asyncio.run(runner.start())
    except KeyboardInterrupt:
        log.info("Received KeyboardInterrupt, shutting down...")


def honour_sigint() -> None:
    """Make SIGINT raise ``KeyboardInterrupt`` in this process, as in an interactive one,
    even when it was started with SIGINT ignored (the main thread only can set handlers)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def start_message(deployments: Sequence[Any]) -> str:
    """What ``serve`` prints once the deployments are registered."""
    from prefect.settings import PREFECT_UI_URL

    lines = ["Your deployments are being served and polling for scheduled runs:"]
    lines += [f"  {d.flow_name}/{d.name}" for d in deployments]
    if PREFECT_UI_URL.value():
        lines.append(f"Run them from the Prefect UI: {PREFECT_UI_URL.value()}/deployments")
    lines.append("Ctrl-C or SIGTERM stops serving.")
    return "\n".join(lines)
