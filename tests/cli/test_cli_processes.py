"""The installed ``verdictflow`` command run as a user runs it: a real process, its own home.

``db upgrade`` on a fresh PostgreSQL database, and ``verdictflow demo`` with nothing set up
but an empty VERDICTFLOW_HOME (its own ephemeral Prefect API, the default Dask cluster, SQLite).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import fresh_database

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "verdictflow"
DEMO = REPO / "examples" / "demo"


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's shell: none of the test session's verdictflow or Prefect settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VERDICTFLOW_", "PREFECT_", "PYTEST_"))
    }
    env.update(
        VERDICTFLOW_HOME=str(home),
        PREFECT_HOME=str(home.parent / "prefect-home"),  # not the user's ~/.prefect
        PREFECT_SERVER_ANALYTICS_ENABLED="false",  # as the Makefile exports
        COLUMNS="160",
        **extra,
    )
    return env


def _cli(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.postgres
def test_db_upgrade_creates_the_schema_on_postgresql(tmp_path: Path) -> None:
    from storage.migrate import current_revision, head_revision, schema_diff
    from storage.models import Base

    home = tmp_path / "home"
    with fresh_database("verdictflow_cli_upgrade") as url:
        engine = sa.create_engine(url)
        try:
            assert sa.inspect(engine).get_table_names() == []
            env = user_env(home, VERDICTFLOW_DATABASE_URL=url)
            first = _cli(["db", "upgrade"], env, timeout=300)
            assert first.returncode == 0, first.stdout + first.stderr
            said = first.stdout + first.stderr  # messages go to stderr
            assert "up to date" in said
            assert url.split("@")[-1] in said  # it names the database it migrated
            tables = set(sa.inspect(engine).get_table_names())
            assert tables == set(Base.metadata.tables) | {"alembic_version"}
            assert current_revision(engine) == head_revision()
            assert schema_diff(engine) == []
            assert not (home / "verdictflow.db").exists()  # PostgreSQL, not the SQLite default
            # Again: nothing to do, nothing lost.
            from storage.repository import Repository

            repo = Repository(url)
            repo.start_run("r-1", "verify", {"k": 1}, "v1")
            repo.dispose()
            again = _cli(["db", "upgrade"], env, timeout=300)
            assert again.returncode == 0, again.stdout + again.stderr
            assert "up to date" in again.stdout + again.stderr
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT run_id FROM runs")).scalars().all() == ["r-1"]
            assert current_revision(engine) == head_revision()
        finally:
            engine.dispose()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_verdictflow_demo_runs_as_a_user_runs_it(tmp_path: Path) -> None:
    from deployments.cli import _short
    from storage.repository import Repository
    from tests.flows.test_demo import CHANGED_NUMBERS

    home = tmp_path / "home"
    result = _cli(["demo"], user_env(home), timeout=840)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    items = [json.loads(line) for line in (DEMO / "items.jsonl").read_text().splitlines()]
    [(run_id, status)] = re.findall(r"^run (\S+): (\w+) \{", output, flags=re.M)
    # The demo items carry labels, so the batch gates include ECE; with no calibrator fitted
    # the run may end "quality_failed", which the user is told along with the gate.
    assert status in {"completed", "quality_failed"}, output[-4000:]
    if status == "quality_failed":
        assert re.search(r"quality gate \w+: \w+ failed", output), output[-4000:]
    # The table: one row per flagged item (not supported), with its verdict; the supported
    # ones are counted above it. A terminal's worth of output, ending in the table.
    allowed = "supported|contradicted|unsupported|uncertain"
    shown = dict(re.findall(rf"^\s*(\S+)\s+({allowed})\s+[01]\.\d\d\s", result.stdout, re.M))
    assert "supported" not in shown.values()
    [hidden] = re.findall(r"^(\d+) supported items not listed", output, re.M)
    assert len(shown) + int(hidden) == len(items)
    assert {i for i in CHANGED_NUMBERS if shown.get(i) != "contradicted"} == set()
    assert len(output.strip().splitlines()) <= 40, output
    # What it printed is what it stored, in the home it was given.
    repo = Repository(f"sqlite:///{home / 'verdictflow.db'}")
    try:
        run = repo.get_run(run_id)
        assert run["status"] == status and run["counts"]["items"] == len(items)
        stored = {v.item_id: v.label.value for v in repo.load_item_verdicts(run_id)}
        flagged = {_short(k, 24): v for k, v in stored.items() if v != "supported"}
        assert flagged == shown
        assert set(stored) == {i["id"] for i in items}
        ingests = [r for r in repo.list_runs(kind="ingest") if r["status"] == "completed"]
        assert len(ingests) == 1 and ingests[0]["counts"]["new"] == len(
            list((DEMO / "corpus").iterdir())
        )
    finally:
        repo.dispose()
    assert (home / "lancedb").is_dir()
