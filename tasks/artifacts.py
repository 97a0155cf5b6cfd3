"""What a verify run shows in the Prefect UI: a progress bar that says what it did, the
verdict table and the plots (``p_supported`` by verdict; reliability on labelled runs).

Published on the flow run that calls them: the ``verify-items`` flow, and the
``verify-dataset`` flow for the run the user started.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE

from storage.repository import current_repository
from tasks.plots import p_supported_markdown, reliability_markdown
from verdictflow.contracts import ItemVerdict, gold_labels

# Counts that are not verdict labels, in the order a summary names them.
_NOT_LABELS = ("items", "input_errors", "claims")


def done_line(counts: dict[str, Any], run_id: str | None = None) -> str:
    """``3 items, 4 claims verified: 1 supported, 2 contradicted; 1 input error (run `r1`)``."""
    labels = ", ".join(f"{n} {k}" for k, n in counts.items() if k not in _NOT_LABELS and n)
    line = f"{counts.get('items', 0)} items, {counts.get('claims', 0)} claims verified"
    line += f": {labels}" if labels else ""
    errors = counts.get("input_errors", 0)
    if errors:
        line += f"; {errors} input error{'s' if errors != 1 else ''}"
    return line + (f" (run `{run_id}`)" if run_id else "")


class RunProgress:
    """A progress artifact on the running flow run whose description says what was done."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.artifact_id: UUID = create_progress_artifact(
            progress=0.0, description=f"{what}: starting"
        )

    def update(self, done: int, total: int) -> None:
        """``done`` of ``total`` items checked."""
        update_progress_artifact(
            self.artifact_id,
            100.0 * done / max(total, 1),
            description=f"{self.what}: {done} of {total} items checked",
        )

    def finish(self, counts: dict[str, Any], run_id: str | None = None) -> None:
        """100 %, and what the run verified."""
        update_progress_artifact(
            self.artifact_id, 100.0, description=f"{self.what}: {done_line(counts, run_id)}"
        )


@task(name="summary-artifact", cache_policy=NO_CACHE)
def summary_artifact(
    run_id: str,
    verdicts: list[ItemVerdict],
    counts: dict,
    labels: dict[str, Any] | None = None,
) -> None:
    """The verdict table (first 500 items), the ``p_supported`` plot and, when items carry a
    gold label, the reliability diagram, on the running flow run.

    Args:
        run_id: The verify run.
        verdicts: Its item verdicts.
        counts: Its counts (items, input errors, claims, items per label).
        labels: Gold label per item id; None: the ``label`` of the run's stored items.
    """
    rows = [
        {
            "item": v.item_id,
            "verdict": v.label.value,
            "p_supported": round(v.p_supported, 3),
            "claims": len(v.claims),
            "deciding claim": v.deciding_claim.text[:120] if v.claims else "",
        }
        for v in verdicts[:500]
    ]
    create_table_artifact(key="verify-summary", table=rows, description=done_line(counts, run_id))
    create_markdown_artifact(
        key="verify-p-supported",
        markdown=p_supported_markdown(verdicts),
        description=f"p_supported by verdict, run `{run_id}`",
    )
    labels = gold_labels(current_repository().load_items(run_id)) if labels is None else labels
    reliability = reliability_markdown(verdicts, labels) if labels else None
    if reliability:
        create_markdown_artifact(
            key="verify-reliability",
            markdown=reliability,
            description=f"Reliability of the labelled verdicts, run `{run_id}`",
        )
