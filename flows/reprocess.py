"""Re-verify what a changed document touches; the new verdicts sit beside the old ones.

document ids -> stored items citing them (or whose search now finds them) -> per original run:
verify-items (subflow, new run with ``parent_run_id``) -> old against new -> artifact.
"""

from __future__ import annotations

from prefect import flow
from pydantic import BaseModel, Field

from flows.runtime import task_runner
from flows.verify import verify_items
from storage.lineage import doc_ids_from, reprocess_run_id
from tasks.orchestration import (
    changes_artifact,
    compare_task,
    document_state_task,
    find_affected_items,
    load_items_task,
)
from verdictflow.config import get_settings


class ReprocessRun(BaseModel):
    """One new run: the items of one earlier run, verified again."""

    parent_run_id: str
    run_id: str
    status: str
    items: list[str]
    changes: list[dict]


class ReprocessResult(BaseModel):
    """What a reprocess flow run did."""

    doc_ids: list[str]
    runs: list[ReprocessRun] = Field(default_factory=list)

    @property
    def items(self) -> int:
        return sum(len(r.items) for r in self.runs)


@flow(name="reprocess-items", log_prints=True)
def reprocess_on_document_change(
    document: str = Field(
        ...,
        description=(
            "Changed document id(s), comma-separated; an event resource id "
            "(verdictflow.document.<doc_id>) works too."
        ),
    ),
    search_recent_runs: int | None = Field(
        None,
        ge=0,
        description=(
            "Also re-verify items of this many recent runs whose corpus search now finds the "
            "document; empty: VERDICTFLOW_ORCHESTRATION__REPROCESS_RECENT_RUNS, 0: off."
        ),
    ),
) -> ReprocessResult:
    """Re-verify every stored item whose evidence came from a changed document.

    Args:
        document: The changed document id(s) or event resource id.
        search_recent_runs: How many recent runs to search for items the document now affects.
    """
    doc_ids = doc_ids_from(document)
    if search_recent_runs is None:
        search_recent_runs = get_settings().orchestration.reprocess_recent_runs
    affected = find_affected_items(doc_ids, search_recent_runs)
    state = document_state_task(doc_ids)
    result = ReprocessResult(doc_ids=doc_ids)
    all_changes: list[dict] = []
    for parent_run_id, item_ids in affected.items():
        items = load_items_task(parent_run_id, item_ids)
        run_id = reprocess_run_id(parent_run_id, item_ids, state)
        verified = verify_items.with_options(task_runner=task_runner())(
            items=[item.model_dump() for item in items],
            run_id=run_id,
            parent_run_id=parent_run_id,
        )
        rows = compare_task(parent_run_id, run_id, item_ids)
        all_changes.extend(rows)
        result.runs.append(
            ReprocessRun(
                parent_run_id=parent_run_id,
                run_id=run_id,
                status=verified.status,
                items=[item.id for item in items],
                changes=rows,
            )
        )
    changes_artifact(doc_ids, all_changes)
    print(f"reprocess {doc_ids}: {result.items} items in {len(result.runs)} runs")
    return result
