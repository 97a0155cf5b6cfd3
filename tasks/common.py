"""What every Prefect task module shares: the options of data tasks (one retry policy)."""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from verdictflow.config import get_settings


def data_task_options() -> dict[str, Any]:
    """``@task`` options for tasks that carry large data (records, claims, documents).

    No input hashing (their inputs are large and we persist results ourselves); retries with
    exponential backoff from ``settings.verify``.
    """
    verify = get_settings().verify
    return {
        "cache_policy": NO_CACHE,
        "retries": verify.task_retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=verify.task_retry_delay_s),
    }
