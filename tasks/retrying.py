"""Retry transient failures with exponential backoff and jitter; fail fast on permanent ones.

Transient: a dropped or refused database connection, a lost Dask worker, a file briefly
locked, a timeout. Permanent: a missing file, bad input, a programming error; retrying them
only delays the clear message.
"""

from __future__ import annotations

import errno
from typing import Any

from prefect.tasks import exponential_backoff

from verdictflow.config import get_settings

# Exception class names (any module) that mean "try again later".
_TRANSIENT_NAMES = frozenset(
    {
        "OperationalError",  # sqlalchemy / DBAPI: connection dropped, database restarting, locked
        "InterfaceError",
        "DisconnectionError",
        "KilledWorker",  # distributed: a worker died with the task
        "CommClosedError",
        "StreamClosedError",
        "TimeoutError",
        "ConnectionError",
        "ConnectionResetError",
        "ConnectionRefusedError",
        "BrokenPipeError",
        "ReadTimeout",
        "ConnectTimeout",
        "RemoteProtocolError",
    }
)
# OSError numbers that mean a resource is briefly unavailable (locked, busy, out of handles).
_TRANSIENT_ERRNOS = frozenset(
    {errno.EAGAIN, errno.EBUSY, errno.ETXTBSY, errno.EMFILE, errno.ENFILE, errno.EINTR}
)


def is_transient(exc: BaseException | None) -> bool:
    """Whether an exception (or any exception in its cause chain) is worth retrying."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for klass in type(exc).__mro__:
            if klass.__name__ in _TRANSIENT_NAMES:
                return True
        if isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS:
            return True
        if isinstance(exc, PermissionError) and getattr(exc, "winerror", None) == 32:
            return True  # Windows: file in use by another process
        exc = exc.__cause__ or exc.__context__
    return False


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only failures that may pass on their own."""
    try:
        state.result(raise_on_failure=True)
    except BaseException as exc:  # noqa: BLE001 - we classify, not handle
        return is_transient(exc)
    return False


def task_retry_options() -> dict[str, Any]:
    """Keyword arguments for ``@task``: retries, exponential backoff with jitter, the condition."""
    settings = get_settings().orchestration
    return {
        "retries": settings.flow_retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=settings.retry_delay_s),
        "retry_jitter_factor": settings.retry_jitter,
        "retry_condition_fn": retry_if_transient,
    }
