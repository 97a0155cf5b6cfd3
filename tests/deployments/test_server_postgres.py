"""The Prefect server on PostgreSQL: started by us, a real flow run recorded in its database."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa

from tests.conftest import fresh_database
from tests.deployments.corpus import write_jsonl
from tests.deployments.servers import REPO, client_env, prefect_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(600)]

FJELL = "The Fjell S1 is a portable Bluetooth speaker rated IP67. It weighs 1.1 kilograms."


def test_prefect_server_runs_on_postgresql(tmp_path):
    records = write_jsonl(
        tmp_path / "records.jsonl",
        [{"id": "w", "text": "The Fjell S1 weighs 1.1 kilograms.", "context": FJELL}],
    )
    home = tmp_path / "home"
    code = (
        "from flows.verify_dataset import verify_dataset, DatasetSource; "
        f"r = verify_dataset(DatasetSource(path={str(records)!r})); print('STATUS', r.status)"
    )
    with fresh_database("prefect_server") as url, prefect_server(tmp_path, database_url=url) as api:
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env=client_env(api, home),
            capture_output=True,
            text=True,
            timeout=400,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "STATUS completed" in done.stdout
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                runs = dict(
                    conn.execute(
                        sa.text(
                            "SELECT f.name, r.state_type FROM flow_run r "
                            "JOIN flow f ON f.id = r.flow_id"
                        )
                    ).all()
                )
                tables = set(sa.inspect(conn).get_table_names())
        finally:
            engine.dispose()
    # The server kept its state in PostgreSQL: the flow run and its subflow, completed.
    assert runs == {"verify-dataset": "COMPLETED", "verify-items": "COMPLETED"}
    assert {"flow_run", "deployment", "automation", "events"} <= tables
