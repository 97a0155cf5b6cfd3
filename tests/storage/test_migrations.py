"""Alembic migrations driven from code: idempotent, concurrent-safe, matching the models."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from storage.migrate import alembic_config, current_revision, head_revision, schema_diff, upgrade
from storage.models import Base
from storage.repository import Repository
from tests.conftest import fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (these tests need one no other test has migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with fresh_database("verdictflow_mig") as url:
        yield url


def test_upgrade_creates_exactly_the_models_schema(fresh_url: str) -> None:
    repo = Repository(fresh_url)
    try:
        assert current_revision(repo.engine) is None
        assert upgrade(repo.engine) is True
        assert current_revision(repo.engine) == head_revision()
        assert schema_diff(repo.engine) == []
        tables = set(sa.inspect(repo.engine).get_table_names())
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
        assert repo.table_counts() == dict.fromkeys(sorted(Base.metadata.tables), 0)
    finally:
        repo.dispose()


def test_upgrade_twice_is_harmless(fresh_url: str) -> None:
    repo = Repository(fresh_url)
    try:
        repo.upgrade()
        repo.start_run("r-1", "verify", {"k": 1}, "v1")
        before = repo.table_counts()
        repo.upgrade()
        assert upgrade(repo.engine) is False
        assert repo.table_counts() == before
        assert repo.get_run("r-1")["parameters"] == {"k": 1}
        assert schema_diff(repo.engine) == []
    finally:
        repo.dispose()


def test_concurrent_upgrades_all_succeed(fresh_url: str) -> None:
    repos = [Repository(fresh_url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(len(repos)) as pool:
            list(pool.map(lambda r: r.upgrade(), repos))
        assert current_revision(repos[0].engine) == head_revision()
        assert schema_diff(repos[0].engine) == []
        with repos[0].engine.connect() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        assert [v[0] for v in versions] == [head_revision()]
    finally:
        for r in repos:
            r.dispose()


def test_downgrade_to_base_and_back(fresh_url: str) -> None:
    repo = Repository(fresh_url)
    try:
        repo.upgrade()
        with repo.engine.begin() as conn:
            command.downgrade(alembic_config(connection=conn), "base")
        assert set(sa.inspect(repo.engine).get_table_names()) <= {"alembic_version"}
        assert current_revision(repo.engine) is None
        repo.upgrade()
        assert schema_diff(repo.engine) == []
    finally:
        repo.dispose()


def test_verdicts_stored_before_spans_read_back_with_none(fresh_url: str) -> None:
    from storage.queries import load_item_verdicts

    repo = Repository(fresh_url)
    try:
        repo.upgrade()
        with repo.engine.begin() as conn:
            command.downgrade(alembic_config(connection=conn), "0003")
        assert "spans" not in {
            c["name"] for c in sa.inspect(repo.engine).get_columns("claim_verdicts")
        }
        with repo.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO claim_verdicts (run_id, claim_id, item_id, idx, text, label, "
                    "p_supported, p_contradicted, p_nei, uncertainty, abstained, experts, "
                    "no_evidence) VALUES ('r', 'c', 'i', 0, 'Old claim.', 'supported', 0.9, "
                    "0.05, 0.05, 0.0, false, '{}', false)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO item_verdicts (run_id, item_id, label, p_supported, n_claims) "
                    "VALUES ('r', 'i', 'supported', 0.9, 1)"
                )
            )
        repo.upgrade()
        assert current_revision(repo.engine) == head_revision() and schema_diff(repo.engine) == []
        with repo.engine.connect() as conn:
            (verdict,) = load_item_verdicts(conn, "r")
        assert verdict.claims[0].text == "Old claim." and verdict.claims[0].spans == []
    finally:
        repo.dispose()
