"""CLI command ``verdictflow train-experts [--quick] [--expert NAME]``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)


def train_experts_command(
    quick: bool = typer.Option(False, "--quick", help="Minutes-long budget (tests, smoke runs)."),
    expert: list[str] | None = typer.Option(  # noqa: B008
        None, "--expert", help="Train only this expert (repeatable): generalist, qa, long_sources."
    ),
    output_dir: Path | None = typer.Option(  # noqa: B008
        None, help="Where experts are saved; default settings.training.output_dir."
    ),
) -> None:
    """Train the verifier experts from scratch and print their test figures."""
    from experts.training.loop import EXPERT_SPECS
    from flows.train import train_experts

    unknown = sorted(set(expert or []) - set(EXPERT_SPECS))
    if unknown:
        console.print(f"[red]unknown expert(s) {unknown}; choose from {sorted(EXPERT_SPECS)}[/red]")
        raise typer.Exit(2)
    results = train_experts(
        experts=expert or None, quick=quick, output_dir=str(output_dir) if output_dir else None
    )
    for r in results:
        typer.echo(
            json.dumps(
                {
                    "name": r["name"],
                    "path": r["path"],
                    "test": r["test"],
                    "cpu_pairs_per_s": r["cpu_pairs_per_s"],
                }
            )
        )


def register(app: typer.Typer) -> None:
    """Add ``train-experts`` to the ``verdictflow`` app."""
    app.command("train-experts")(train_experts_command)
