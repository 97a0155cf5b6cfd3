"""CLI commands to run verdictflow on a schedule, from the UI and on new documents.

``verdictflow serve`` serves every deployment of prefect.yaml; ``verdictflow server`` starts a
Prefect server; ``verdictflow watch DIR`` ingests files as they change.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)


def serve(
    deployment: list[str] = typer.Option(  # noqa: B008
        None, "--deployment", "-d", help="Serve only these deployments (repeatable)."
    ),
    limit: int | None = typer.Option(None, help="Concurrent flow runs; default from settings."),
    list_only: bool = typer.Option(False, "--list", help="List the deployments and exit."),
) -> None:
    """Serve all deployments of prefect.yaml in this process (against PREFECT_API_URL)."""
    from deployments.catalog import CatalogError, deployment_specs, load_deployments, serve_all

    if list_only:
        names = {d.name for d in load_deployments(deployment or None)}
        for spec in deployment_specs():
            state = "ready" if spec["name"] in names else "missing flow"
            typer.echo(f"{spec['name']}\t{spec['entrypoint']}\t{state}")
        return
    try:
        serve_all(deployment or None, limit=limit)
    except CatalogError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from exc


def server(
    host: str | None = typer.Option(None, help="Listen address; default from settings."),
    port: int | None = typer.Option(None, help="Port; default from settings (4200)."),
    database_url: str | None = typer.Option(
        None, help="Server database (PostgreSQL); default from settings, else SQLite."
    ),
) -> None:
    """Start a Prefect server with its UI (SQLite by default, PostgreSQL when configured).

    SIGTERM or SIGINT (Ctrl-C) stops the server and every process it started."""
    import signal
    import subprocess

    from deployments.server import DB_ENV, server_command, stop_process_group

    argv, env = server_command(host, port, database_url)
    where = env.get(DB_ENV, "SQLite under PREFECT_HOME").split("@")[-1]
    console.print(f"Prefect server on {argv[argv.index('--host') + 1]}:{argv[-2]} ({where})")
    child = subprocess.Popen(argv, env=env, start_new_session=True)
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)
        stop_process_group(child)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    code = child.wait()
    raise typer.Exit(code=0 if stopping else code)


def watch(
    directory: Path = typer.Argument(  # noqa: B008
        ..., exists=True, file_okay=False, help="Folder of documents to watch."
    ),
    initial: bool = typer.Option(True, help="Ingest the whole folder before watching."),
) -> None:
    """Ingest DIRECTORY, then ingest files as they appear or change (Ctrl-C stops)."""
    from deployments.watch import watch_and_ingest

    console.print(f"watching {directory} (Ctrl-C stops)")
    try:
        runs = watch_and_ingest(directory, initial=initial)
    except KeyboardInterrupt:
        return
    console.print(f"stopped after {runs} ingest runs")


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``server`` and ``watch`` to the verdictflow app."""
    app.command("serve")(serve)
    app.command("server")(server)
    app.command("watch")(watch)
