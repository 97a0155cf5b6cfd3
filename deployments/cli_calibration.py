"""CLI commands of calibration and the quality gates: ``calibrate`` and ``quality-check``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)


def calibrate_command(
    dataset: Annotated[
        str,
        typer.Argument(
            help="Labelled JSONL ({id, text, context?, label}) or a data set name (vitaminc, "
            "halueval_qa, halueval_dialogue, halueval_summarization)."
        ),
    ],
    method: Annotated[
        str | None, typer.Option(help="temperature, isotonic or auto (default: settings).")
    ] = None,
    alpha: Annotated[
        float | None, typer.Option(help="Conformal target error (default: settings).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Rows per split (default: settings).")] = None,
    output: Annotated[Path | None, typer.Option(help="Write the report JSON here too.")] = None,
) -> None:
    """Fit calibration and abstention on labelled data; print ECE/Brier/NLL and coverage."""
    if method is not None and method not in ("temperature", "isotonic", "auto"):
        console.print(f"[red]unknown method {method!r}: use temperature, isotonic or auto[/red]")
        raise typer.Exit(2)
    from experts.decision.calibration_data import dataset_names

    unknown = [n for n in dataset.split(",") if n.strip() not in dataset_names()]
    if not Path(dataset).is_file() and unknown:
        console.print(
            f"[red]calibrate: unknown data set {', '.join(unknown)!r}: give a labelled JSONL "
            f"file or one or more (comma-separated) of {', '.join(dataset_names())}[/red]"
        )
        raise typer.Exit(1)
    from flows.calibrate import run_calibrate

    try:
        report = run_calibrate(dataset, method=method, alpha=alpha, limit=limit)
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]calibrate: {exc}[/red]")
        raise typer.Exit(1) from exc
    table = Table(title=f"calibration {report['version']}")
    for column in ("split", "stage", "ECE", "Brier", "NLL", "accuracy", "n"):
        table.add_column(column)
    for split in ("calibration", "held_out"):
        for stage in ("before", "after"):
            m = report.get(split, {}).get(stage)
            if m:
                table.add_row(
                    split,
                    stage,
                    f"{m['ece']:.4f}",
                    f"{m['brier']:.4f}",
                    f"{m['nll']:.4f}",
                    f"{m['accuracy']:.3f}",
                    str(int(m["n"])),
                )
    Console().print(table)
    for alpha_key, f in report.get("held_out", {}).get("by_alpha", {}).items():
        Console().print(
            f"alpha {alpha_key}: coverage {f['coverage']:.3f} (target {f['target']:.2f}), "
            f"abstention {f['abstention_rate']:.3f}, selective accuracy "
            + (
                "n/a (every claim abstained)"
                if f["selective_accuracy"] != f["selective_accuracy"]  # NaN
                else f"{f['selective_accuracy']:.3f}"
            )
        )
    Console().print(f"saved under {Path(report['paths']['combined']).parent}")
    if output is not None:
        output.write_text(json.dumps(report, indent=2, sort_keys=True, default=float))


def quality_check_command(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Items JSONL to check.")
    ],
) -> None:
    """Check a JSONL of items against the record rules; exit 1 if any record breaks one."""
    from verdictflow.inputs import read_jsonl

    items, errors = read_jsonl(path)
    for e in errors:
        who = f"item {e.item_id!r}" if e.item_id else "record"
        console.print(f"[yellow]line {e.line}: {who}: rule {e.rule}: {e.message}[/yellow]")
    Console().print(f"{len(items) + len(errors)} records, {len(errors)} breaking a record rule")
    if errors:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``calibrate`` and ``quality-check`` to the verdictflow CLI."""
    app.command("calibrate")(calibrate_command)
    app.command("quality-check")(quality_check_command)
