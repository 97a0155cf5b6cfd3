"""A quiet terminal: library logs go to a file under ``VERDICTFLOW_HOME``.

The CLI shows a progress bar, its results and errors. Prefect's run logs, the Dask
scheduler's and workers', Great Expectations' and warnings go to
``HOME/logs/verdictflow.log`` instead (``verdictflow -v`` leaves them on the terminal); the
weight-loading bars and Prefect's usage-data notice are off either way (``deployments.cli``). It
works through the environment, before Prefect or Dask is imported, so the processes the CLI
starts (the temporary Prefect server, Dask workers) write to the same file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import yaml

_FILE_HANDLER = {
    "class": "logging.FileHandler",
    "formatter": "plain",
    "encoding": "utf-8",
    "level": "INFO",
}
_PLAIN = {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}


def _prefect_config(log_file: Path) -> dict:
    """Prefect's own logging.yml with every terminal handler writing to ``log_file``."""
    import importlib.util

    spec = importlib.util.find_spec("prefect")
    default = Path(spec.origin).parent / "logging" / "logging.yml"
    config = yaml.safe_load(default.read_text())
    config["formatters"]["plain"] = _PLAIN
    for name in ("console", "debug"):
        config["handlers"][name] = {**_FILE_HANDLER, "filename": str(log_file)}
    return config


def _dask_config(log_file: Path) -> dict:
    return {
        "logging": {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"plain": _PLAIN},
            "handlers": {"file": {**_FILE_HANDLER, "filename": str(log_file)}},
            "loggers": {
                name: {"level": "INFO", "handlers": ["file"], "propagate": False}
                for name in ("distributed", "bokeh", "tornado")
            },
        }
    }


def send_logs_to_file(home: Path) -> Path:
    """Route library logs of this process and its children to ``home/logs/verdictflow.log``.

    Call it before Prefect, Dask or transformers are imported. Returns the log file.
    """
    folder = Path(home) / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    log_file = (folder / "verdictflow.log").resolve()
    prefect_yml = folder / "prefect-logging.yml"
    prefect_yml.write_text(yaml.safe_dump(_prefect_config(log_file)))
    dask_dir = folder / "dask"
    dask_dir.mkdir(exist_ok=True)
    (dask_dir / "logging.yaml").write_text(yaml.safe_dump(_dask_config(log_file)))
    os.environ["PREFECT_LOGGING_CONFIG_PATH"] = str(prefect_yml)
    os.environ["DASK_CONFIG"] = str(dask_dir)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter(_PLAIN["format"]))
    logging.getLogger().addHandler(handler)
    logging.captureWarnings(True)
    return log_file
