"""What every Prefect task module shares: the options of data tasks (one retry policy)."""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import NO_CACHE

from tasks.retrying import task_retry_options


def data_task_options() -> dict[str, Any]:
    """``@task`` options for tasks that carry large data (records, claims, documents).

    No input hashing (their inputs are large and we persist results ourselves); the one
    retry policy of ``tasks.retrying`` (transient failures only, backoff with jitter).
    """
    return {"cache_policy": NO_CACHE, **task_retry_options()}
