"""Thin Prefect tasks over the quality gates; each also publishes a Markdown artifact."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from quality.gates import (
    EvidenceRows,
    GateOutcome,
    check_batch,
    check_evidence_rows,
    check_outputs,
    quality_artifact_markdown,
)
from tasks.common import data_task_options
from verdictflow.contracts import ItemVerdict, QualityResult

# Inputs are large lists of records: no input hashing, results are returned directly.
_OPTIONS = data_task_options()


def _publish(gate: str, outcome: GateOutcome, artifact: bool) -> GateOutcome:
    if artifact and outcome.results:
        create_markdown_artifact(
            markdown=quality_artifact_markdown({gate: outcome}),
            key=f"quality-{gate}",
            description=f"Great Expectations gate '{gate}': "
            + ("FAILED" if outcome.failed else "passed"),
        )
    return outcome


@task(name="quality-evidence", **_OPTIONS)
def validate_evidence(rows: EvidenceRows, artifact: bool = True) -> GateOutcome:
    """Evidence gate over a run's evidence rows (``EvidenceRows.of(claims, evidence)``);
    ``failed_ids`` are claim ids."""
    return _publish("evidence", check_evidence_rows(rows), artifact)


@task(name="quality-outputs", **_OPTIONS)
def validate_outputs(
    verdicts: list[ItemVerdict], item_ids: list[str] | None = None, artifact: bool = True
) -> GateOutcome:
    """Outputs gate over the run's item verdicts; ``failed_ids`` are item ids."""
    return _publish("outputs", check_outputs(verdicts, item_ids), artifact)


@task(name="quality-batch", **_OPTIONS)
def validate_batch(
    verdicts: list[ItemVerdict], labels: dict[str, str] | None = None, artifact: bool = True
) -> GateOutcome:
    """Batch gate: a failure marks the run ``quality_failed``."""
    return _publish("batch", check_batch(verdicts, labels), artifact)


def quality_table(outcomes: dict[str, GateOutcome]) -> list[dict[str, Any]]:
    """One row per expectation across gates, for a table artifact or a database."""
    return [
        {
            "gate": gate,
            "rule": r.details.get("rule", ""),
            "expectation": r.expectation,
            "column": r.column or "",
            "success": r.success,
            "unexpected": r.unexpected_count,
            "examples": "; ".join(str(e) for e in r.examples)[:300],
        }
        for gate, outcome in outcomes.items()
        for r in outcome.results
    ]


@task(name="quality-report", **_OPTIONS)
def quality_report(outcomes: dict[str, GateOutcome], key: str = "quality-report") -> bool:
    """One Markdown and one table artifact over all gates of a run; returns whether any failed."""
    create_markdown_artifact(
        markdown=quality_artifact_markdown(outcomes),
        key=key,
        description="Great Expectations gates of this run",
    )
    rows = quality_table(outcomes)
    if rows:
        create_table_artifact(table=rows, key=f"{key}-table", description="Every expectation")
    return any(o.failed for o in outcomes.values())


def all_results(outcomes: dict[str, GateOutcome]) -> list[QualityResult]:
    """Every expectation result of every gate, to store with the run."""
    return [r for outcome in outcomes.values() for r in outcome.results]
