"""A warm Great Expectations process, so the fast path's gates run beside the experts.

GX validation is pure Python (~4 ms per expectation per validation, whatever the frame's size):
in a thread it holds the GIL the pipeline needs, so on a one-item request the gates add their
whole cost to the latency. This child process (``python -m quality.gate_worker``) imports GX
once and runs gate functions sent to it, one call at a time, while the parent embeds and
scores on the other core.

Protocol: length-prefixed pickles over the child's stdin and a private copy of its stdout
(the child's own stdout is pointed at stderr, so nothing it prints can corrupt a reply). Each
request carries the parent's ``VERDICTFLOW_*`` variables, so the child judges with the same
settings. A call returns ``None`` instead of a handle when the worker is still warming up,
busy or gone: the caller then runs the gate in its own process, with the same result.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from verdictflow.config import REPO_ROOT, get_settings, reset_settings

_HEADER = struct.Struct(">Q")
_ENV_PREFIX = "VERDICTFLOW_"
_MAX_STARTS = 3  # a child that keeps dying is not started again: the gates run in-process


def _send(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("gate worker closed its pipe")
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("gate worker closed its pipe mid-message")
    return pickle.loads(data)


def _target(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}:{fn.__qualname__}"


class GateCall:
    """A request in flight; ``result()`` waits for the reply (and must be called)."""

    def __init__(self, worker: GateWorker) -> None:
        self._worker = worker
        self._reply: tuple[str, Any] | None = None

    def result(self) -> Any:
        """The function's return value; its exception, re-raised, if it raised."""
        if self._reply is None:
            self._reply = self._worker._finish()
        kind, value = self._reply
        if kind == "error":
            raise value
        return value


class GateWorker:
    """The parent's handle on the child process: started lazily, restarted when it died."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._starts = 0
        self._busy = threading.Lock()
        self.served = 0  # replies received: calls the child ran

    def _start(self) -> None:
        self._starts += 1
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "quality.gate_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self._ready = False

    def _is_ready(self) -> bool:
        """True once the child has imported GX (checked without waiting)."""
        if self._proc is None or self._proc.poll() is not None:
            if self._starts >= _MAX_STARTS:
                return False
            self._start()
        if not self._ready and select.select([self._proc.stdout], [], [], 0)[0]:
            try:
                self._ready = _receive(self._proc.stdout) == ("ready", None)
            except EOFError:  # it died while starting: started again on the next call
                self._ready = False
        return self._ready

    def wait_ready(self, timeout_s: float = 60.0) -> bool:
        """Start the child if needed and wait until it has imported GX (a warm-up call for a
        long-lived process); False when it did not get ready in time."""
        with self._busy:
            deadline = time.monotonic() + timeout_s
            while not self._is_ready():
                if self._proc is None or (
                    self._starts >= _MAX_STARTS and self._proc.poll() is not None
                ):
                    return False
                if time.monotonic() > deadline:
                    return False
                select.select([self._proc.stdout], [], [], 0.1)
            return True

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> GateCall | None:
        """Send ``fn(*args, **kwargs)`` to the child; None when it cannot take it now."""
        if not self._busy.acquire(blocking=False):
            return None
        try:
            if not self._is_ready():
                self._busy.release()
                return None
            env = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIX)}
            _send(self._proc.stdin, (env, _target(fn), args, kwargs))
        except (OSError, EOFError, pickle.PicklingError):
            self._ready = False
            self._busy.release()
            return None
        except BaseException:  # interrupted mid-request: the child would read a torn message
            self._stop()
            self._busy.release()
            raise
        return GateCall(self)

    def _finish(self) -> tuple[str, Any]:
        try:
            reply = _receive(self._proc.stdout)
            self.served += 1
            return reply
        except (OSError, EOFError) as exc:
            self._ready = False
            return "error", RuntimeError(f"gate worker died: {exc}")
        except BaseException:  # interrupted mid-reply: what is left would answer the next call
            self._stop()
            raise
        finally:
            self._busy.release()

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
        self._proc = None
        self._ready = False

    def close(self) -> None:
        """Stop the child (its stdin closing ends its loop)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None
        self._ready = False


@functools.lru_cache(maxsize=1)
def gate_worker() -> GateWorker:
    """The process-wide worker (started on first use, stopped at exit)."""
    worker = GateWorker()
    atexit.register(worker.close)
    return worker


def warm_up(timeout_s: float = 60.0) -> bool:
    """Start the gate worker now and wait until it is ready, when the fast path would use it
    (a long-lived process calls this once; the benchmark does before timing)."""
    quality = get_settings().quality
    return quality.enabled and quality.gate_process and gate_worker().wait_ready(timeout_s)


def run_gate(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> GateCall | _Done:
    """Run a gate in the worker when ``quality.gate_process`` is on and it can take it now,
    else here and now; either way ``.result()`` gives the value."""
    if get_settings().quality.gate_process:
        call = gate_worker().submit(fn, *args, **kwargs)
        if call is not None:
            return call
    return _Done(fn(*args, **kwargs))


class _Done:
    """A gate already run in this process."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


def _apply_env(env: dict[str, str]) -> None:
    current = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIX)}
    if current == env:
        return
    for key in current.keys() - env.keys():
        del os.environ[key]
    os.environ.update(env)
    reset_settings()


def _resolve(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    value: Any = importlib.import_module(module)
    for part in name.split("."):
        value = getattr(value, part)
    return value


def main() -> None:
    """The child's loop: warm GX up, then answer requests until stdin closes."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    requests = sys.stdin.buffer
    from quality.gx_runtime import warm_up

    warm_up()
    _send(replies, ("ready", None))
    while True:
        try:
            env, target, args, kwargs = _receive(requests)
        except EOFError:
            return
        _apply_env(env)
        try:
            reply: tuple[str, Any] = ("ok", _resolve(target)(*args, **kwargs))
        except Exception as exc:
            reply = ("error", exc)
        try:
            _send(replies, reply)
        except Exception as exc:  # an unpicklable value or exception
            _send(replies, ("error", RuntimeError(f"{target}: {type(exc).__name__}: {exc}")))


if __name__ == "__main__":
    main()
