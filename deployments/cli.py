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
    from deployments.run_report import GoldScore
    from flows.verify import VerifyResult
    from verdictflow.contracts import ClaimVerdict

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Set before Prefect or the HF libraries are imported, with or without -v: Prefect's client
# prints a usage-data notice on import in a terminal unless DO_NOT_TRACK is set (the server
# setting above does not stop it), and transformers draws a "Loading weights" bar per model.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
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


def _run_verify(path: Path, output: Path | None, rerun: bool = False) -> VerifyResult:
    from rich.progress import Progress

    from flows import fast_path as verify_module  # Prefect is imported only for a flow run

    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("verifying", total=None)
        said = False

        def listener(done: int, total: int) -> None:
            nonlocal said
            progress.update(bar, completed=done, total=total)
            # Off a terminal (a scheduled job's log) the bar draws nothing: a line a batch
            # (verify.batch_items), none for a run of one batch.
            if not console.is_terminal and (said or done < total):
                console.print(f"verifying: {done} of {total} items", soft_wrap=True)
                said = True

        verify_module.progress_listeners.append(listener)
        try:
            result = verify_module.verify_items(path=str(path), rerun=rerun)
        finally:
            verify_module.progress_listeners.remove(listener)
    if output is not None:
        from verdictflow.verdicts import output_row

        with output.open("w", encoding="utf-8") as handle:
            for verdict in result.verdicts:
                handle.write(json.dumps(output_row(verdict, result.run_id)) + "\n")
    if result.status == "quality_failed":
        _print_failed_expectations(result.run_id)
    _print_gold_score(result)
    from rich.markup import escape

    for error in result.errors:
        console.print(
            f"[yellow]line {error.line} item {escape(error.item_id or '-')}: "
            f"rule {error.rule}: {escape(error.message)}[/yellow]",
            soft_wrap=True,  # one line per error, whatever the terminal width
        )
    for warning in result.counts.get("warnings", []):
        console.print(f"[yellow]warning: {escape(warning)}[/yellow]", soft_wrap=True)
    return result


def _counts_line(result: VerifyResult) -> str:
    """The run's last line: its id, status and counts (warnings are printed on their own)."""
    counts = {k: v for k, v in result.counts.items() if k != "warnings"}
    return f"run {result.run_id}: {result.status} {counts}"


def _print_failed_expectations(run_id: str) -> None:
    """What each failed gate checked and what it means, in plain words."""
    from rich.markup import escape

    from quality.explain import failure_lines
    from storage.repository import current_repository

    for line in failure_lines(current_repository().load_quality_results(run_id)):
        console.print(f"[yellow]{escape(line)}[/yellow]", soft_wrap=True)


def _gold_score(result: VerifyResult) -> GoldScore | None:
    """The run's verdicts against the gold labels its items carry (None: no labels)."""
    from deployments.run_report import score
    from storage.repository import current_repository
    from verdictflow.contracts import gold_labels

    labels = gold_labels(current_repository().load_items(result.run_id))
    return score(result.verdicts, labels) if labels else None


def _print_gold_score(result: VerifyResult) -> None:
    """``Against the gold labels: N of M items right ...`` when the items carry labels."""
    from deployments.run_report import score_line

    gold = _gold_score(result)
    if gold is not None:
        console.print(score_line(gold), soft_wrap=True)


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


# How the table marks a labelled item's outcome (``deployments.run_report``).
OUTCOME_STYLES = {
    "caught": "green",
    "missed": "bold red",
    "false alarm": "bold yellow",
    "passed": "dim",
}


def _print_verdicts(result: VerifyResult, gold: GoldScore | None = None) -> None:
    """The verdicts as a table, one line per item; with ``gold``, each item's gold label and
    what the verdict did (caught, missed, false alarm, passed)."""
    colours = {"supported": "green", "contradicted": "red", "unsupported": "yellow"}
    out = Console()
    table = Table(title=f"run {result.run_id} ({result.status})", box=box.SIMPLE_HEAD)
    widths = {"item": 24, "verdict": 12}
    if gold is not None:
        widths.update({"gold": 12, "check": 11})
    widths["p_supported"] = 11
    for column, width in widths.items():
        table.add_column(column, no_wrap=True, min_width=width, max_width=width)
    table.add_column("deciding claim", no_wrap=True)
    # One line per item: long ids and claims are cut (the JSONL output has them whole).
    claim_width = max(20, out.width - sum(widths.values()) - 4 * len(widths))
    for verdict in result.verdicts:
        colour = colours.get(verdict.label.value, "magenta")
        cells = [_short(verdict.item_id, 24), f"[{colour}]{verdict.label.value}[/{colour}]"]
        if gold is not None:
            kind = gold.outcomes.get(verdict.item_id, "")
            style = OUTCOME_STYLES.get(kind, "dim")
            label = _short(gold.labels.get(verdict.item_id, "-"), 12)
            cells += [label, f"[{style}]{kind or '-'}[/{style}]"]
        cells += [f"{verdict.p_supported:.2f}", _highlighted(verdict.deciding_claim, claim_width)]
        table.add_row(*cells)
    table.caption = " ".join(f"[{style}]{kind}[/{style}]" for kind, style in SPAN_STYLES.items())
    out.print(table)


@app.command()
def verify(
    input: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSONL of items."),
    output: Path | None = typer.Option(None, "--output", "-o", help="JSONL of verdicts."),
    table: bool = typer.Option(False, help="Also print a table of verdicts."),
    rerun: bool = typer.Option(
        False, "--rerun", help="Check again as a new run, even when nothing changed."
    ),
) -> None:
    """Verify every item of INPUT (one JSON object a line).

    Without ``--output`` the verdicts go to the terminal: a table, or JSONL rows when standard
    output is a pipe or a file. The same file checked by the same experts is the same run:
    its stored verdicts come back (``--rerun`` checks it again)."""
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
    result = _run_verify(input, output, rerun)
    if output is None and not sys.stdout.isatty():
        from verdictflow.verdicts import output_row

        for verdict in result.verdicts:
            typer.echo(json.dumps(output_row(verdict, result.run_id)))
    elif table or output is None:
        _print_verdicts(result, _gold_score(result))
    console.print(_counts_line(result), soft_wrap=True)
    if not result.verdicts:
        raise typer.Exit(code=1)


@app.command()
def demo(
    all_items: bool = typer.Option(False, "--all", help="List every item, not only the flagged."),
) -> None:
    """Ingest the demo corpus, verify the demo items against it, list what it flagged and,
    as the items carry gold labels, what it missed."""
    from deployments.run_report import by_outcome, listing_line, to_list
    from flows.ingest import ingest_documents

    ingest_documents([str(DEMO_DIR / "corpus")])
    result = _run_verify(DEMO_DIR / "items.jsonl", None)
    console.print(_counts_line(result), soft_wrap=True)
    gold = _gold_score(result)
    listed = by_outcome(result.verdicts, gold) if all_items else to_list(result.verdicts, gold)
    if gold is not None:
        ids = [v.item_id for v in listed]
        console.print(listing_line(gold, ids, "verdictflow demo --all"), soft_wrap=True)
    elif len(listed) < len(result.verdicts):
        console.print(
            f"{len(result.verdicts) - len(listed)} supported items not listed "
            "(`verdictflow demo --all` lists every item)"
        )
    _print_verdicts(result.model_copy(update={"verdicts": listed}), gold)


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
