"""Thin Prefect tasks of the orchestration flows (verify-dataset, reprocess-on-document-change)."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from storage import lineage as rp
from storage.repository import current_repository
from tasks.common import data_task_options
from verdictflow import datasets
from verdictflow.contracts import InputError, Item

_OPTIONS = data_task_options()


@task(name="read-dataset", **_OPTIONS)
def read_dataset_task(
    path: str | None,
    table: str | None,
    database_url: str | None,
    id_column: str,
    text_column: str,
    context_column: str | None,
    limit: int | None,
) -> tuple[list[Item], list[InputError]]:
    """Items and per-record errors of a dataset file or table."""
    return datasets.read_dataset(
        path,
        table,
        database_url=database_url,
        id_column=id_column,
        text_column=text_column,
        context_column=context_column,
        limit=limit,
    )


@task(name="save-input-errors", **_OPTIONS)
def save_input_errors_task(run_id: str, errors: list[InputError]) -> dict:
    """Store the dataset's bad records with the run (idempotent) and count them in its counts."""
    repo = current_repository()
    repo.save_input_errors(run_id, errors)
    run = repo.get_run(run_id) or {}
    counts = {**(run.get("counts") or {}), "input_errors": len(repo.load_input_errors(run_id))}
    repo.finish_run(run_id, run.get("status", "completed"), counts, run.get("timings") or {})
    return counts


@task(name="find-affected-items", **_OPTIONS)
def find_affected_items(doc_ids: list[str], recent_runs: int) -> dict[str, list[str]]:
    """``{root run: [item ids]}`` citing the documents, or whose search now finds them."""
    repo = current_repository()
    return rp.merge(
        rp.affected_items(repo, doc_ids),
        rp.items_retrieving_documents(repo, doc_ids, recent_runs),
    )


@task(name="document-state", **_OPTIONS)
def document_state_task(doc_ids: list[str]) -> dict[str, str]:
    """Each document's status and content hash now."""
    return rp.document_state(current_repository(), doc_ids)


@task(name="load-stored-items", **_OPTIONS)
def load_items_task(run_id: str, item_ids: list[str]) -> list[Item]:
    """Stored items of a run."""
    return current_repository().load_items(run_id, item_ids)


@task(name="compare-verdicts", **_OPTIONS)
def compare_task(parent_run_id: str, run_id: str, item_ids: list[str]) -> list[dict]:
    """Old against new verdict per item; the new run is excluded from "old"."""
    repo = current_repository()
    before = rp.latest_verdicts(repo, parent_run_id, item_ids, exclude=run_id)
    after = [v for v in repo.load_item_verdicts(run_id) if v.item_id in set(item_ids)]
    return rp.changes(before, after)


@task(name="changes-artifact", cache_policy=NO_CACHE)
def changes_artifact(doc_ids: list[str], rows: list[dict]) -> None:
    """A table of what changed on the flow run (first 500 items)."""
    if not rows:
        create_markdown_artifact(
            key="reprocess-changes",
            markdown=f"No stored item cites or retrieves {', '.join(doc_ids)}.",
        )
        return
    changed = sum(1 for r in rows if r["changed"])
    create_table_artifact(
        key="reprocess-changes",
        table=rows[:500],
        description=f"{changed} of {len(rows)} verdicts changed after {', '.join(doc_ids)}",
    )
