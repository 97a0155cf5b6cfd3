"""CLI commands of the corpus: ``verdictflow ingest PATH...`` and ``verdictflow search TEXT``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)


def _parse_filters(items: list[str] | None) -> dict:
    """``key=value`` options as a filter dict; repeated keys mean any of the values;
    integer-looking values of metadata keys compare as integers."""
    from retrieval.store import COLUMN_FILTERS

    filters: dict = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"filter {item!r} is not KEY=VALUE")
        key = key.strip()
        parsed: object = value
        if key not in COLUMN_FILTERS and value.lstrip("-").isdigit():
            parsed = int(value)
        if key in filters:
            old = filters[key]
            filters[key] = [*old, parsed] if isinstance(old, list) else [old, parsed]
        else:
            filters[key] = parsed
    return filters


def _print_ingest(result: dict) -> None:
    """Each failure and each skipped file on a line of its own, then the counts as a table."""
    from rich.markup import escape

    for failure in result["failures"]:
        console.print(
            f"[yellow]{escape(failure['doc_id'])} ({escape(failure['source'])}): rule "
            f"{failure['rule']}: {escape(failure['message'])}[/yellow]",
            soft_wrap=True,  # one line per failure, whatever the terminal width
        )
    for skipped in result.get("skipped", []):
        console.print(
            f"[yellow]skipped {escape(skipped['source'])}: {escape(skipped['reason'])}[/yellow]",
            soft_wrap=True,
        )
    counts = result["counts"]
    table = Table(title=f"ingest {result['run_id']}")
    keys = ("new", "changed", "unchanged", "deleted", "failed", "skipped", "chunks", "embedded")
    for key in keys:
        table.add_column(key, justify="right")
    table.add_row(*(str(counts.get(key, 0)) for key in keys))
    Console().print(table)


def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or folders to ingest."),  # noqa: B008
    text_column: str | None = typer.Option(None, help="Text column of .jsonl/.csv/.parquet."),
    id_column: str | None = typer.Option(None, help="Id column of .jsonl/.csv/.parquet."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Ingest documents into the corpus: only new and changed ones are embedded; exits 1 when
    no document could be read."""
    from flows.ingest import ingest_documents

    missing = [p for p in paths if not p.exists()]
    if missing:
        for path in missing:
            console.print(f"[red]{path}: not found (no such file or folder)[/red]", soft_wrap=True)
        raise typer.Exit(code=2)

    result = ingest_documents(
        [str(p) for p in paths],
        text_column=text_column,
        id_column=id_column,
        show_progress=not as_json,
    )
    counts = result["counts"]
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
    else:
        _print_ingest(result)
    read = sum(counts.get(key, 0) for key in ("new", "changed", "unchanged", "deleted"))
    if counts.get("failed", 0) and not read:
        raise typer.Exit(code=1)


def search(
    text: str = typer.Argument(..., help="What to look for."),
    k: int | None = typer.Option(None, "--k", "-k", help="Hits; default settings top_k."),
    mode: str | None = typer.Option(None, help="vector, fts or hybrid; default from settings."),
    filter_: list[str] = typer.Option(  # noqa: B008
        None, "--filter", "-f", help="KEY=VALUE on source, domain, doc_id or a metadata key."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print hits as JSON."),
) -> None:
    """Search the corpus (hybrid by default)."""
    from retrieval.search import search as run_search

    try:
        hits = run_search(text, k=k, mode=mode, filters=_parse_filters(filter_))
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from exc
    if as_json:
        typer.echo(json.dumps([h.model_dump() for h in hits], indent=2, default=str))
        return
    if not hits:
        console.print("no hits (is the corpus ingested?)")
        return
    table = Table()
    for column in ("rank", "score", "doc_id", "chunk", "text"):
        table.add_column(column)
    for h in hits:
        table.add_row(str(h.rank), f"{h.score:.3f}", h.doc_id, h.chunk_id, h.text[:100])
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``ingest`` and ``search`` to the verdictflow CLI."""
    app.command("ingest")(ingest)
    app.command("search")(search)
