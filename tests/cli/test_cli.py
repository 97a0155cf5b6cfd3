"""The CLI contract: verify, runs, db upgrade, demo."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from deployments.cli import app
from verdictflow.config import reset_settings

runner = CliRunner()
CONTEXT = (
    "Orders under 50 EUR pay a flat shipping fee of 4.90 EUR. We do not ship to post office boxes."
)


@pytest.fixture
def local_home(home, monkeypatch):
    from prefect.logging.configuration import ensure_logging_setup

    # Prefect binds its log handlers to the stderr of its first flow run; CliRunner closes
    # that stream after each call, so set logging up outside it first.
    ensure_logging_setup()
    monkeypatch.setenv("VERDICTFLOW_DASK__USE_DASK", "false")
    reset_settings()
    return home


def _write(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_verify_writes_the_output_contract(prefect_harness, local_home, tmp_path):
    source = _write(
        tmp_path / "in.jsonl",
        [
            {
                "id": "fee",
                "text": "Orders under 50 EUR pay a shipping fee of 6.90 EUR.",
                "context": CONTEXT,
            },
            {
                "id": "ok",
                "text": "Orders under 50 EUR pay a flat fee of 4.90 EUR.",
                "context": CONTEXT,
            },
            '{"id": "broken"',
        ],
    )
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["verify", str(source), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "line 3" in result.output and "rule json" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["fee", "ok"]
    allowed = {"supported", "contradicted", "unsupported", "uncertain"}
    for row in rows:
        assert set(row) == {"id", "verdict", "p_supported", "claims", "run_id"}
        assert row["verdict"] in allowed and 0.0 <= row["p_supported"] <= 1.0
        for claim in row["claims"]:
            assert {"text", "verdict", "p_supported", "evidence", "experts"} <= set(claim)
            assert claim["evidence"] and claim["evidence"][0]["text"]
    assert rows[0]["verdict"] == "contradicted"
    assert len({r["run_id"] for r in rows}) == 1

    listed = runner.invoke(app, ["runs"])
    assert listed.exit_code == 0
    assert rows[0]["run_id"] in listed.output


def test_verify_exits_non_zero_when_nothing_could_be_checked(prefect_harness, local_home, tmp_path):
    source = _write(tmp_path / "bad.jsonl", ['{"id": 1', {"id": "x", "text": ""}])
    result = runner.invoke(app, ["verify", str(source)])
    assert result.exit_code == 1
    assert "rule text" in result.output


def test_db_upgrade_is_repeatable(local_home):
    for _ in range(2):
        result = runner.invoke(app, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "up to date" in result.output


def test_verify_without_output_prints_jsonl_when_piped(prefect_harness, local_home, tmp_path):
    source = _write(
        tmp_path / "one.jsonl",
        [{"id": "fee", "text": "Orders under 50 EUR pay a fee of 6.90 EUR.", "context": CONTEXT}],
    )
    result = runner.invoke(app, ["verify", str(source)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["id"] for r in rows] == ["fee"] and rows[0]["verdict"] == "contradicted"


def test_verify_names_an_empty_file_and_a_csv(local_home, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    result = runner.invoke(app, ["verify", str(empty)])
    assert result.exit_code == 1
    assert "no records: the file is empty" in result.output
    csv = tmp_path / "items.csv"
    csv.write_text("id,text\na,Paris is in France.\n")
    result = runner.invoke(app, ["verify", str(csv)])
    assert result.exit_code == 2
    assert "verify expects JSONL" in result.output and "verify-dataset" in result.output
