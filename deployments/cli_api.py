"""CLI commands of the HTTP API: ``verdictflow api``, ``verdictflow api-key ...``."""

from __future__ import annotations

import json
import os
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)
key_app = typer.Typer(help="API keys of `verdictflow api` (stored hashed).", no_args_is_help=True)


def serving_env(settings) -> dict[str, str]:
    """The ``VERDICTFLOW_`` variables `verdictflow api` sets before the models load: the
    API's backends and threads (``settings.api``), where the environment names none."""
    wanted = {
        "VERDICTFLOW_EXPERTS__BACKEND": settings.api.experts_backend,
        "VERDICTFLOW_RETRIEVAL__EMBEDDING_BACKEND": settings.api.embedding_backend,
        "VERDICTFLOW_EXPERTS__TORCH_THREADS": settings.api.torch_threads,
    }
    return {k: str(v) for k, v in wanted.items() if v and k not in os.environ}


def api(
    host: str | None = typer.Option(None, help="Listen address; default api.host."),
    port: int | None = typer.Option(None, help="Port; default api.port (8000)."),
    warm: bool = typer.Option(True, help="Load the experts and the embedder at start."),
) -> None:
    """Serve the HTTP API (FastAPI under uvicorn) with the models loaded once.

    Every route but /healthz needs a key: make one with `verdictflow api-key create`."""
    import uvicorn

    from deployments.api.app import create_app
    from verdictflow.config import get_settings, reset_settings

    settings = get_settings()
    # The experts and the embedder read the process's settings when they load: serve with the
    # API's backends and threads.
    chosen = serving_env(settings)
    if chosen:
        os.environ.update(chosen)
        reset_settings()
        settings = get_settings()
    if not warm:
        settings = settings.model_copy(
            update={"api": settings.api.model_copy(update={"warm_up": False})}
        )
    host = host or settings.api.host
    port = port or settings.api.port
    loading = "loading models" if settings.api.warm_up else "models load on first use"
    console.print(f"verdictflow api on http://{host}:{port} (OpenAPI at /docs); {loading}")
    app = create_app(settings)
    # log_config=None: uvicorn keeps the logging verdictflow set up (a file unless -v).
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    _announcing_server(config, app).run()


def _announcing_server(config: Any, app: Any) -> Any:
    """A uvicorn server that says ``ready`` (with its address) once the app's start is over
    (models loaded) and its sockets listen: from then on it answers requests."""
    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets: list | None = None) -> None:
            await super().startup(sockets=sockets)
            if not self.started:
                return
            host, port = config.host, config.port
            for server in getattr(self, "servers", []):
                for sock in server.sockets:
                    port = sock.getsockname()[1]  # the real port, also when asked for 0
            seconds = sum((getattr(app.state, "load_seconds", None) or {}).values())
            warm = app.state.settings.api.warm_up
            how = f"models loaded in {seconds:.1f} s" if warm else "models load on first use"
            console.print(f"verdictflow api ready on http://{host}:{port} ({how})", soft_wrap=True)

    return AnnouncingServer(config)


def _store():
    from storage.access import AccessStore
    from storage.repository import current_repository

    return AccessStore(current_repository())


@key_app.command("create")
def create_key(
    name: str = typer.Argument(..., help="Who or what the key is for."),
    scope: list[str] = typer.Option(  # noqa: B008
        ["read"], "--scope", "-s", help="read, verify, ingest or admin (repeatable)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the key and its record as JSON."),
) -> None:
    """Make a key with these scopes; the key is printed once (only its hash is stored)."""
    try:
        key, record = _store().create_key(name, scope)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(code=2) from exc
    if as_json:
        typer.echo(json.dumps({"key": key, **record.model_dump(mode="json")}))
        return
    typer.echo(key)
    console.print(
        f"key {record.key_id} ({name}) with scopes {', '.join(record.scopes)}: keep it now, "
        "it cannot be shown again",
        soft_wrap=True,
    )


@key_app.command("revoke")
def revoke_key(key_id: str = typer.Argument(..., help="The key id (from `api-key list`).")) -> None:
    """Revoke a key: the API refuses it from now on (401)."""
    store = _store()
    if store.revoke_key(key_id):
        console.print(f"key {key_id} revoked")
        return
    known = store.get_key(key_id)
    console.print(
        f"[red]key {key_id}: {'already revoked' if known else 'no such key'}[/red]",
        soft_wrap=True,
    )
    raise typer.Exit(code=1)


@key_app.command("list")
def list_keys(
    active: bool = typer.Option(False, "--active", help="Only keys not revoked."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every key: id, name, scopes, when made and revoked (never the key itself)."""
    keys = _store().list_keys(include_revoked=not active)
    if as_json:
        typer.echo(json.dumps([k.model_dump(mode="json") for k in keys]))
        return
    table = Table(title="API keys")
    for column in ("key id", "name", "scopes", "created", "revoked"):
        table.add_column(column, no_wrap=column == "key id")
    for k in keys:
        revoked = str(k.revoked_at)[:19] if k.revoked_at else ""
        table.add_row(k.key_id, k.name, ", ".join(k.scopes), str(k.created_at)[:19], revoked)
    Console().print(table)


@key_app.command("audit")
def audit(
    limit: int = typer.Option(50, help="How many entries."),
    key_id: str | None = typer.Option(None, "--key", help="Only this key's entries."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The audit log, newest first: who verified or ingested what, and when."""
    entries = _store().audit_entries(limit=limit, key_id=key_id)
    if as_json:
        typer.echo(json.dumps(entries, default=str))
        return
    table = Table(title="audit log")
    for column in ("at", "key id", "action", "target", "status"):
        table.add_column(column, no_wrap=True)
    for e in entries:
        table.add_row(
            str(e["at"])[:19],
            e["key_id"] or "cli",
            e["action"],
            e["target"] or "",
            str(e["status"] or ""),
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``api`` and ``api-key`` to the verdictflow CLI."""
    app.command("api")(api)
    app.add_typer(key_app, name="api-key")
