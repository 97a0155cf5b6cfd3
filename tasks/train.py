"""Thin Prefect tasks of the train-experts flow."""

from __future__ import annotations

from prefect import task

from tasks.common import data_task_options

_OPTS = data_task_options()


@task(name="fetch-training-data", **_OPTS)
def fetch_training_data(datasets: list[str], data_dir: str | None = None) -> dict:
    """Download (once) and split the data sets; returns their split manifest."""
    from pathlib import Path

    from experts.training import data

    cache = Path(data_dir) if data_dir else None
    manifest = {}
    for name, (df, group_col) in data.load_datasets(datasets, cache).items():
        manifest[name] = data.split_manifest(data.splits(df, group_col), group_col)
    return manifest


@task(name="train-expert", **_OPTS)
def train_expert_task(
    name: str, quick: bool = False, output_dir: str | None = None, data_dir: str | None = None
) -> dict:
    """Train, measure and save one expert; a retry resumes from its last checkpoint."""
    from pathlib import Path

    from prefect.logging import get_run_logger

    from experts.training.train_run import train_and_ship

    logger = get_run_logger()
    return train_and_ship(
        name,
        quick=quick,
        data_dir=Path(data_dir) if data_dir else None,
        output_dir=Path(output_dir) if output_dir else None,
        log=logger.info,
    )
