"""Which failures are retried (transient) and which fail fast (permanent), in real task runs."""

from __future__ import annotations

import errno

import pytest
import sqlalchemy as sa
from prefect import flow, task

from tasks.retrying import is_transient, task_retry_options


def _dropped_connection() -> sa.exc.OperationalError:
    engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    try:
        engine.connect()
    except sa.exc.OperationalError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError("port 1 answered")


def test_transient_and_permanent_failures_are_told_apart():
    assert is_transient(_dropped_connection())
    assert is_transient(ConnectionResetError("peer reset"))
    assert is_transient(OSError(errno.EBUSY, "file busy"))
    wrapped = RuntimeError("batch failed")
    wrapped.__cause__ = TimeoutError("worker timed out")
    assert is_transient(wrapped)
    assert not is_transient(FileNotFoundError(errno.ENOENT, "no such file"))
    assert not is_transient(ValueError("column 'text' not found (rule: column)"))
    assert not is_transient(KeyError("run"))


def test_a_task_retries_a_transient_failure_and_not_a_permanent_one(
    prefect_harness, home, monkeypatch
):
    from verdictflow.config import reset_settings

    monkeypatch.setenv("VERDICTFLOW_ORCHESTRATION__RETRY_DELAY_S", "0.05")
    monkeypatch.setenv("VERDICTFLOW_ORCHESTRATION__FLOW_RETRIES", "3")
    reset_settings()
    calls = {"flaky": 0, "broken": 0}

    @task(**task_retry_options())
    def flaky() -> str:
        calls["flaky"] += 1
        if calls["flaky"] < 3:
            raise ConnectionResetError("database connection dropped")
        return "done"

    @task(**task_retry_options())
    def broken() -> None:
        calls["broken"] += 1
        raise FileNotFoundError(errno.ENOENT, "dataset.jsonl")

    @flow
    def both() -> str:
        result = flaky()
        with pytest.raises(FileNotFoundError):
            broken()
        return result

    assert both() == "done"
    assert calls == {"flaky": 3, "broken": 1}  # two retries with backoff; no retry at all
    options = task_retry_options()
    assert options["retry_jitter_factor"] == 0.5
    assert options["retry_delay_seconds"](3) == [0.05, 0.1, 0.2]  # exponential
