"""The calibrate and quality-check commands, on a Typer app of their own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from deployments.cli_calibration import register
from verdictflow.config import reset_settings


@pytest.fixture
def prefect_logging() -> Iterator[None]:
    """Re-bind Prefect's console handlers to the real stderr around a flow run in CliRunner.

    A flow run inside ``CliRunner.invoke`` configures logging on the runner's temporary stream,
    which is closed afterwards; later runs in the session would log to a closed file.
    """
    from prefect.logging.configuration import setup_logging

    setup_logging(incremental=False)
    yield
    setup_logging(incremental=False)


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_quality_check_names_records_and_rules(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"id": "a", "text": "Paris is in France."}),
                json.dumps({"id": "a", "text": "Duplicate id."}),
                json.dumps({"id": "b", "text": "   "}),
                "{broken",
                json.dumps({"id": "c", "text": "Fine."}),
            ]
        )
    )
    result = CliRunner().invoke(app, ["quality-check", str(path)])
    assert result.exit_code == 1
    assert "line 2: item 'a': rule duplicate_id" in result.output
    assert "line 3: item 'b': rule text" in result.output
    assert "line 4: record: rule json" in result.output
    assert "5 records, 3 breaking" in result.output
    path.write_text(json.dumps({"id": "c", "text": "Fine."}) + "\n")
    result = CliRunner().invoke(app, ["quality-check", str(path)])
    assert result.exit_code == 0 and "1 records, 0 breaking" in result.output


def test_calibrate_rejects_an_unknown_method(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["calibrate", "vitaminc", "--method", "platt"])
    assert result.exit_code == 2
    assert "unknown method 'platt'" in result.output


def test_calibrate_reports_a_bad_dataset(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["calibrate", "no-such-set"])
    assert result.exit_code == 1
    assert "unknown data set 'no-such-set'" in result.output


@pytest.mark.slow
def test_calibrate_command_end_to_end(
    app: typer.Typer,
    prefect_harness: None,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.flows.test_calibrate import labelled_rows

    monkeypatch.setenv("VERDICTFLOW_QUALITY__CALIBRATION_MIN_ROWS", "10")
    monkeypatch.setenv("VERDICTFLOW_DASK__USE_DASK", "false")
    reset_settings()
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in labelled_rows()) + "\n")
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app, ["calibrate", str(path), "--method", "isotonic", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["method"] == "isotonic"
    assert f"calibration {report['version']}" in result.output
    assert "alpha 0.1: coverage" in result.output
    assert (home / "calibration" / "combined.json").exists()
