"""The ``verdictflow`` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from flows.verify import VerifyResult
    from verdictflow.contracts import ClaimVerdict

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The temporary Prefect server's first start on a fresh machine (no bytecode yet, a new
# database to migrate) can take longer than Prefect's default 20 s.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

app = typer.Typer(help="Check text against evidence, claim by claim.", no_args_is_help=True)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console(stderr=True)

DEMO_DIR = Path(__file__).resolve().parent.parent / "examples" / "demo"


@app.callback()
def _options(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show library logs (Prefect, Dask, GX) on the terminal."
    ),
) -> None:
    """Check text against evidence, claim by claim."""


def _run_verify(path: Path, output: Path | None) -> VerifyResult:
    from rich.progress import Progress

    from flows import verify as verify_module

    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("verifying", total=None)

        def listener(done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total)

        verify_module.progress_listeners.append(listener)
        try:
            result = verify_module.verify_items(path=str(path))
        finally:
            verify_module.progress_listeners.remove(listener)
    if output is not None:
        from verdictflow.verdicts import output_row

        with output.open("w", encoding="utf-8") as handle:
            for verdict in result.verdicts:
                handle.write(json.dumps(output_row(verdict, result.run_id)) + "\n")
    if result.status == "quality_failed":
        _print_failed_expectations(result.run_id)
    for error in result.errors:
        console.print(
            f"[yellow]line {error.line} item {error.item_id or '-'}: "
            f"rule {error.rule}: {error.message}[/yellow]",
            soft_wrap=True,  # one line per error, whatever the terminal width
        )
    return result


def _print_failed_expectations(run_id: str) -> None:
    from storage.repository import current_repository

    for res in current_repository().load_quality_results(run_id):
        if not res.success:
            observed = res.details.get("observed_value", res.unexpected_count)
            console.print(
                f"[red]quality gate {res.suite}: {res.details.get('rule', res.expectation)} "
                f"failed (observed {observed}, {res.details.get('kwargs', {})})[/red]",
                soft_wrap=True,
            )


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


# How the table shows a span's words.
SPAN_STYLES = {"contradicted": "bold red", "unsupported": "underline yellow"}


def _highlighted(claim: ClaimVerdict, width: int) -> str:
    """The claim as rich markup, cut to ``width`` like ``_short``, its spans' words styled and
    everything else escaped (a claim's "[red]" is text, not markup)."""
    from rich.markup import escape

    text = claim.text
    cut = len(text) if len(text) <= width else max(1, width - 1)
    parts, at = [], 0
    for span in sorted(claim.spans, key=lambda s: s.start):
        start, end = max(span.start, at), min(span.end, cut)
        if start >= end:
            continue
        style = SPAN_STYLES[span.kind]
        parts += [escape(text[at:start]), f"[{style}]{escape(text[start:end])}[/{style}]"]
        at = end
    parts.append(escape(text[at:cut]))
    return "".join(parts) + ("…" if cut < len(text) else "")


def _print_verdicts(result: VerifyResult) -> None:
    colours = {"supported": "green", "contradicted": "red", "unsupported": "yellow"}
    out = Console()
    table = Table(title=f"run {result.run_id} ({result.status})", box=box.SIMPLE_HEAD)
    widths = {"item": 24, "verdict": 12, "p_supported": 11}
    for column, width in widths.items():
        table.add_column(column, no_wrap=True, min_width=width, max_width=width)
    table.add_column("deciding claim", no_wrap=True)
    # One line per item: long ids and claims are cut (the JSONL output has them whole).
    claim_width = max(20, out.width - sum(widths.values()) - 10)
    for verdict in result.verdicts:
        colour = colours.get(verdict.label.value, "magenta")
        table.add_row(
            _short(verdict.item_id, 24),
            f"[{colour}]{verdict.label.value}[/{colour}]",
            f"{verdict.p_supported:.2f}",
            _highlighted(verdict.deciding_claim, claim_width),
        )
    table.caption = " ".join(f"[{style}]{kind}[/{style}]" for kind, style in SPAN_STYLES.items())
    out.print(table)


@app.command()
def verify(
    input: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSONL of items."),
    output: Path | None = typer.Option(None, "--output", "-o", help="JSONL of verdicts."),
    table: bool = typer.Option(False, help="Also print a table of verdicts."),
) -> None:
    """Verify every item of INPUT (one JSON object a line).

    Without ``--output`` the verdicts go to the terminal: a table, or JSONL rows when standard
    output is a pipe or a file."""
    if input.suffix.lower() in (".csv", ".parquet", ".tsv", ".xlsx"):
        console.print(
            f"[red]{input}: verify expects JSONL (one JSON object a line); for a "
            f"{input.suffix} file of records run the verify-dataset deployment "
            "(`prefect deployment run verify-dataset/verify-dataset -p dataset=...`) "
            "or convert it to JSONL[/red]",
            soft_wrap=True,
        )
        raise typer.Exit(code=2)
    if not input.read_bytes().strip():
        console.print(f"[red]{input}: no records: the file is empty[/red]", soft_wrap=True)
        raise typer.Exit(code=1)
    result = _run_verify(input, output)
    if output is None and not sys.stdout.isatty():
        from verdictflow.verdicts import output_row

        for verdict in result.verdicts:
            typer.echo(json.dumps(output_row(verdict, result.run_id)))
    elif table or output is None:
        _print_verdicts(result)
    console.print(f"run {result.run_id}: {result.status} {result.counts}", soft_wrap=True)
    if not result.verdicts:
        raise typer.Exit(code=1)


@app.command()
def demo(
    all_items: bool = typer.Option(False, "--all", help="List every item, not only the flagged."),
) -> None:
    """Ingest the demo corpus, verify the demo items against it, list what it flagged."""
    from flows.ingest import ingest_documents

    ingest_documents([str(DEMO_DIR / "corpus")])
    result = _run_verify(DEMO_DIR / "items.jsonl", None)
    console.print(f"run {result.run_id}: {result.status} {result.counts}", soft_wrap=True)
    flagged = [v for v in result.verdicts if all_items or v.label.value != "supported"]
    if len(flagged) < len(result.verdicts):
        console.print(
            f"{len(result.verdicts) - len(flagged)} supported items not listed "
            "(`verdictflow demo --all` lists every item)"
        )
    _print_verdicts(result.model_copy(update={"verdicts": flagged}))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema."""
    from storage.repository import Repository
    from verdictflow.config import get_settings

    url = get_settings().db_url
    Repository(url).upgrade()
    console.print(f"database at {url.split('@')[-1]} is up to date")


@app.command()
def runs(limit: int = typer.Option(20, help="How many runs.")) -> None:
    """Recent runs and their counts."""
    from storage.repository import Repository

    repo = Repository()
    repo.upgrade()
    table = Table(title="recent runs")
    table.add_column("run", no_wrap=True)  # ids stay whole, to copy
    for column in ("kind", "status", "started", "counts"):
        table.add_column(column)
    for run in repo.list_runs(limit=limit):
        counts = ", ".join(f"{k}={v}" for k, v in (run.get("counts") or {}).items())
        table.add_row(
            run["run_id"], run["kind"], run["status"], str(run["started_at"])[:19], counts
        )
    Console().print(table)


def _register_commands() -> None:
    from deployments import (
        cli_api,
        cli_calibration,
        cli_dashboard,
        cli_eval,
        cli_experts,
        cli_orchestration,
        cli_retrieval,
        cli_train,
    )

    for module in (
        cli_retrieval,
        cli_orchestration,
        cli_calibration,
        cli_train,
        cli_experts,
        cli_eval,
        cli_api,
        cli_dashboard,
    ):
        module.register(app)


_register_commands()


def main() -> None:
    """Console-script entry point: library logs go to ``HOME/logs/verdictflow.log`` unless
    ``-v`` is given (set up before Prefect or Dask is imported)."""
    from verdictflow.config import get_settings, offline_hub

    if not {"-v", "--verbose"} & set(sys.argv[1:]):
        from deployments.logs import send_logs_to_file

        send_logs_to_file(get_settings().home)
    offline_hub()
    app(prog_name="verdictflow")


if __name__ == "__main__":
    sys.exit(main())
