"""CLI commands of evaluation and benchmarks: ``verdictflow evaluate`` and ``verdictflow bench``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)


def _print_report(report: dict) -> None:
    from experts.evaluation.labelled import report_rows

    rows = report_rows(report)
    table = Table(title=f"evaluation {report['run_id']}")
    for column in rows[0] if rows else ["dataset"]:
        table.add_column(column)
    for row in rows:
        table.add_row(*[str(v) for v in row.values()])
    Console().print(table)


def evaluate(
    dataset: Annotated[
        list[str],
        typer.Option(
            "--dataset",
            "-d",
            help="vitaminc, halueval_qa, halueval_dialogue, halueval_summarization, demo, all, "
            "or a labelled JSONL path; repeat for several.",
        ),
    ],
    limit: Annotated[
        int | None, typer.Option(help="Rows per data set (default: settings).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report JSON here.")
    ] = None,
) -> None:
    """Run labelled data through the verify pipeline and report quality per data set."""
    from flows.evaluate import evaluate as evaluate_flow

    try:
        report = evaluate_flow(datasets=list(dataset), limit=limit)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from exc
    _print_report(report)
    if output is not None:
        output.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    console.print(f"report stored as run {report['run_id']}: {report['paths']['report']}")


def bench(
    sizes: Annotated[
        str, typer.Option(help="Claims per scaling point, comma-separated.")
    ] = "100,1000,10000",
    batch_items: Annotated[int, typer.Option(help="Items of the end-to-end verify batch.")] = 1000,
    latency_runs: Annotated[int, typer.Option(help="Single-item verify calls timed.")] = 30,
    out: Annotated[
        Path | None, typer.Option(help="Folder for JSON + Markdown (default: settings).")
    ] = None,
    skip_experts: Annotated[
        bool, typer.Option(help="Skip the experts benchmark (efficiency, gating).")
    ] = False,
) -> None:
    """Run every benchmark and write benchmarks/results/bench.json and bench.md."""
    run = load_bench()
    result = run.run_all(
        sizes=[int(s) for s in sizes.split(",") if s.strip()],
        batch_items=batch_items,
        latency_runs=latency_runs,
        out=out,
        skip_experts=skip_experts,
    )
    console.print(f"wrote {result['paths']['json']} and {result['paths']['markdown']}")


def load_bench():
    """The repository's ``benchmarks.run`` module (pysbd installs a ``benchmarks`` package that
    would shadow the repository's folder)."""
    import importlib
    import sys

    from verdictflow.config import REPO_ROOT

    loaded = sys.modules.get("benchmarks")
    if loaded is not None and Path(loaded.__file__ or "").parent != REPO_ROOT / "benchmarks":
        for name in [m for m in sys.modules if m == "benchmarks" or m.startswith("benchmarks.")]:
            del sys.modules[name]
    if sys.path[:1] != [str(REPO_ROOT)]:
        sys.path.insert(0, str(REPO_ROOT))
    return importlib.import_module("benchmarks.run")


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` and ``bench`` to the verdictflow app."""
    app.command("evaluate")(evaluate)
    app.command("bench")(bench)
