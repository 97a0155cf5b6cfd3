"""Fault injection: PostgreSQL connections really terminated mid-run (pg_terminate_backend).

A drop the storage retries absorb: the run completes. Drops that outlast every retry: the run
fails, and running it again completes. Either way the stored rows equal those of an
undisturbed run: nothing lost, nothing doubled. (A Dask worker killed mid-run is covered by
the experts' tests.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from tests.conftest import PG_ADMIN_URL, fresh_database
from tests.deployments.corpus import write_jsonl
from verdictflow.config import reset_settings

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(600)]

FJELL = (
    "The Fjell S1 is a portable Bluetooth speaker rated IP67. It weighs 1.1 kilograms and "
    "plays for up to 20 hours on a charge. It charges over USB-C in about 3 hours."
)
RECORDS = [
    {"id": "r1", "text": "The Fjell S1 is rated IP67.", "context": FJELL},
    {"id": "r2", "text": "The Fjell S1 weighs 2.5 kilograms.", "context": FJELL},
    {"id": "r3", "text": "It plays for up to 20 hours. It charges over USB-C.", "context": FJELL},
    {"id": "r4", "text": "The Fjell S1 charges in about 3 hours.", "context": FJELL},
]


@pytest.fixture
def dataset(tmp_path, home, monkeypatch):
    """The records as JSONL; two items per persisted batch, expert batches in-process."""
    monkeypatch.setenv("VERDICTFLOW_DASK__USE_DASK", "false")
    monkeypatch.setenv("VERDICTFLOW_VERIFY__BATCH_ITEMS", "2")
    monkeypatch.setenv("VERDICTFLOW_STORAGE__RETRY_DELAY_S", "0.05")
    reset_settings()
    return write_jsonl(tmp_path / "records.jsonl", RECORDS)


@contextmanager
def database(monkeypatch: pytest.MonkeyPatch, prefix: str) -> Iterator[str]:
    with fresh_database(prefix) as url:
        monkeypatch.setenv("VERDICTFLOW_DATABASE_URL", url)
        reset_settings()
        yield url


def _snapshot(url: str) -> tuple[dict, list]:
    from storage.repository import repository_for

    repo = repository_for(url)
    [run] = repo.list_runs(kind="verify")
    verdicts = [v.model_dump() for v in repo.load_item_verdicts(run["run_id"])]
    counts = repo.table_counts()
    repo.dispose()
    return counts, verdicts


class ConnectionKiller:
    """Terminates the backend of a connection as it inserts claim verdicts (a real drop)."""

    def __init__(self, url: str, skip: int, kills: int) -> None:
        from storage.repository import repository_for

        self.engine = repository_for(url).engine
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.skip, self.kills, self.seen, self.killed = skip, kills, 0, 0
        sa.event.listen(self.engine, "before_cursor_execute", self)

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.lstrip().upper().startswith("INSERT INTO CLAIM_VERDICTS"):
            return
        self.seen += 1
        if self.seen <= self.skip or self.killed >= self.kills:
            return
        self.killed += 1
        with self.admin.connect() as admin:
            admin.execute(
                sa.text("SELECT pg_terminate_backend(:pid)"),
                {"pid": cursor.connection.info.backend_pid},
            )

    def remove(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self)
        self.admin.dispose()


def test_dropped_connections_lose_and_double_nothing(prefect_harness, dataset, monkeypatch):
    from flows.verify_dataset import DatasetSource, verify_dataset

    source = DatasetSource(path=str(dataset))
    with database(monkeypatch, "vf_faults_ref") as url:
        assert verify_dataset(source).status == "completed"
        reference = _snapshot(url)
    assert reference[0]["claim_verdicts"] == 5 and len(reference[1]) == 4

    # 1. Two drops in the middle of the run: the write is retried, the run completes.
    with database(monkeypatch, "vf_faults_retry") as url:
        killer = ConnectionKiller(url, skip=1, kills=2)
        try:
            result = verify_dataset(source)
        finally:
            killer.remove()
        assert killer.killed == 2
        assert result.status == "completed"
        assert _snapshot(url) == reference

    # 2. Drops on every attempt after the first batch: the run fails halfway; run again.
    monkeypatch.setenv("VERDICTFLOW_STORAGE__WRITE_RETRIES", "0")
    reset_settings()
    with database(monkeypatch, "vf_faults_rerun") as url:
        killer = ConnectionKiller(url, skip=1, kills=1000)
        try:
            with pytest.raises(Exception, match="(?i)terminat|connection|closed"):
                verify_dataset(source)
        finally:
            killer.remove()
        assert killer.killed >= 1
        from storage.repository import repository_for

        halfway = repository_for(url).table_counts()
        assert 0 < halfway["claim_verdicts"] < reference[0]["claim_verdicts"]
        result = verify_dataset(source)
        assert result.status == "completed"
        assert _snapshot(url) == reference
