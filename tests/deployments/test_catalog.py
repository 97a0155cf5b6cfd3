"""prefect.yaml, the deployments built from it, the server command and the CLI commands."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from deployments.catalog import (
    CatalogError,
    deployment_specs,
    load_deployments,
    load_flow,
    module_path,
)
from deployments.cli_orchestration import register
from deployments.server import async_database_url, server_command

REQUIRED = {"ingest-documents", "verify-dataset", "reprocess-on-document-change", "calibrate"}


def test_prefect_yaml_names_every_deployment_with_schedules_and_the_trigger():
    specs = {s["name"]: s for s in deployment_specs()}
    assert set(specs) >= REQUIRED | {"train-experts", "train-gate", "evaluate"}
    assert specs["verify-dataset"]["schedules"][0]["cron"] == "0 2 * * *"
    assert specs["ingest-documents"]["schedules"][0]["cron"] == "0 1 * * *"
    [trigger] = specs["reprocess-on-document-change"]["triggers"]
    assert trigger["expect"] == ["verdictflow.document.changed"]
    assert trigger["parameters"] == {"document": "{{ event.resource.id }}"}
    for name in ("train-experts", "train-gate", "calibrate", "evaluate"):
        assert "schedules" not in specs[name] and "triggers" not in specs[name]


def test_deployments_build_with_typed_parameter_forms():
    deployments = {d.name: d for d in load_deployments()}
    assert set(deployments) >= REQUIRED
    verify = deployments["verify-dataset"]
    assert verify.entrypoint == "flows.verify_dataset.verify_dataset"
    assert [s.schedule.cron for s in verify.schedules] == ["0 2 * * *"]
    props = verify._parameter_openapi_schema.definitions["DatasetSource"]["properties"]
    assert props["id_column"] == {
        "default": "id",
        "description": "Column with each record's id.",
        "title": "Id Column",
        "type": "string",
    }
    reprocess = deployments["reprocess-on-document-change"]
    [trigger] = reprocess.triggers
    assert trigger.match.model_dump() == {"prefect.resource.id": "verdictflow.document.*"}
    assert reprocess._parameter_openapi_schema.required == ["document"]


def test_a_deployment_whose_flow_is_missing_is_skipped_or_refused(tmp_path):
    yaml_path = tmp_path / "prefect.yaml"
    yaml_path.write_text(
        "deployments:\n"
        "  - name: calibrate\n    entrypoint: flows/calibrate.py:calibrate\n"
        "  - name: evaluate\n    entrypoint: flows/no_such_flow.py:evaluate\n",
        encoding="utf-8",
    )
    assert [d.name for d in load_deployments(path=yaml_path)] == ["calibrate"]
    with pytest.raises(CatalogError, match="flows.no_such_flow does not exist"):
        load_deployments(path=yaml_path, strict=True)
    with pytest.raises(CatalogError, match="no deployment named nope"):
        load_deployments(["nope"], path=yaml_path)
    with pytest.raises(CatalogError, match="has no 'nothing'"):
        load_flow("flows/calibrate.py:nothing")
    assert module_path("flows/verify.py:verify_items") == ("flows.verify", "verify_items")


def test_server_command_uses_sqlite_by_default_and_postgres_when_configured(home, monkeypatch):
    from verdictflow.config import reset_settings

    argv, env = server_command(port=4321, env={})
    assert argv[argv.index("--port") + 1] == "4321"
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert "PREFECT_SERVER_DATABASE_CONNECTION_URL" not in env
    assert env["PREFECT_SERVER_UI_API_URL"] == "http://127.0.0.1:4321/api"
    monkeypatch.setenv(
        "VERDICTFLOW_ORCHESTRATION__SERVER_DATABASE_URL", "postgresql+psycopg://u:p@db:5432/prefect"
    )
    reset_settings()
    _argv, env = server_command(env={})
    assert (
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] == "postgresql+asyncpg://u:p@db:5432/prefect"
    )
    assert async_database_url("sqlite:////tmp/x.db") == "sqlite+aiosqlite:////tmp/x.db"
    with pytest.raises(ValueError, match="rule: dialect"):
        async_database_url("mysql://db/x")


def test_cli_registers_serve_server_and_watch():
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command keeps typer in multi-command mode
        """Nothing."""

    runner = CliRunner()
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "server", "watch"):
        assert command in result.output
    listed = runner.invoke(app, ["serve", "--list"])
    assert listed.exit_code == 0, listed.output
    lines = dict(line.split("\t", 1) for line in listed.output.strip().splitlines())
    assert lines["verify-dataset"] == "flows/verify_dataset.py:verify_dataset\tready"
    missing = runner.invoke(app, ["watch", "/no/such/folder"])
    assert missing.exit_code != 0


def test_compose_file_uses_real_settings_and_runs_every_part():
    import yaml

    from verdictflow.config import REPO_ROOT, Settings

    compose = yaml.safe_load((REPO_ROOT / "deployments" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "prefect-server", "dask-scheduler", "dask-gpu-worker", "serve"} <= set(
        services
    )
    assert "verdictflow serve" in " ".join(services["serve"]["command"])
    assert services["dask-gpu-worker"]["command"][:3] == ["dask", "cuda", "worker"]
    env = {**services["serve"]["environment"], **services["prefect-server"]["environment"]}
    for name in (k for k in env if k.startswith("VERDICTFLOW_")):
        top, _, nested = name.removeprefix("VERDICTFLOW_").lower().partition("__")
        assert top in Settings.model_fields, name
        if nested:
            area = Settings.model_fields[top].annotation
            assert nested in area.model_fields, name
    assert env["VERDICTFLOW_DASK_ADDRESS"] == "tcp://dask-scheduler:8786"
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
