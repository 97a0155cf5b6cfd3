"""CLI command of the analytics dashboard: ``verdictflow dashboard``."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console(stderr=True)


def streamlit_command(port: int, host: str) -> list[str]:
    """``streamlit run`` of the dashboard app: headless, no usage statistics, no file watcher."""
    import sys

    from deployments.dashboard import APP_PATH

    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
        "--global.developmentMode",
        "false",
    ]


def dashboard(
    port: int = typer.Option(8501, help="Port the dashboard listens on."),
    host: str = typer.Option("127.0.0.1", help="Listen address."),
    migrate: bool = typer.Option(
        True, help="Bring the database schema up to date first (adds the dashboard's indexes)."
    ),
) -> None:
    """Serve the analytics dashboard (Streamlit) over the database of VERDICTFLOW_DATABASE_URL.

    SIGTERM or SIGINT (Ctrl-C) stops it (a second one kills it)."""
    import signal
    import subprocess

    import sqlalchemy as sa

    from verdictflow.config import get_settings

    url = get_settings().db_url
    if migrate:
        from storage.repository import Repository

        repo = Repository(url)
        try:
            repo.upgrade()
        finally:
            repo.dispose()
    shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    console.print(f"verdictflow dashboard on http://{host}:{port} (database {shown})")
    # Streamlit stays in this process's group: a signal to the group (Ctrl-C, a supervisor
    # stopping the group) reaches both; one to this process alone is passed on.
    child = subprocess.Popen(streamlit_command(port, host))
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL if len(stopping) > 1 else signal.SIGTERM)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    code = child.wait()
    raise typer.Exit(code=0 if stopping else code)


def register(app: typer.Typer) -> None:
    """Add ``dashboard`` to the verdictflow app."""
    app.command("dashboard")(dashboard)
