"""Thin Prefect tasks of the ingest flow: each wraps one retrieval or storage step."""

from __future__ import annotations

from prefect import task
from prefect.events import emit_event

from retrieval.ingest import (
    DocumentChange,
    IndexStats,
    IngestPlan,
    document_records,
    index_documents,
    plan_ingest,
    unrecorded_changes,
)
from retrieval.loaders import Document, LoadResult, load_documents
from retrieval.store import ChunkStore
from storage.repository import current_repository
from tasks.common import data_task_options
from verdictflow.contracts import DocumentRecord

EVENT_CHANGED = "verdictflow.document.changed"
RESOURCE_PREFIX = "verdictflow.document."

# Ingest tasks write state and carry whole documents: no input hashing, no caching.
_OPTS = data_task_options()


@task(name="start-ingest-run", **_OPTS)
def start_run_task(run_id: str, parameters: dict, code_version: str) -> bool:
    """Record the ingest run as running."""
    return current_repository().start_run(run_id, "ingest", parameters, code_version)


@task(name="load-documents", **_OPTS)
def load_documents_task(
    paths: list[str], text_column: str | None = None, id_column: str | None = None
) -> LoadResult:
    """Read every file under ``paths`` into documents and per-document failures."""
    return load_documents(paths, text_column=text_column, id_column=id_column)


@task(name="plan-ingest", **_OPTS)
def plan_ingest_task(loaded: LoadResult, paths: list[str]) -> IngestPlan:
    """New, changed, unchanged and deleted documents, against the chunk store."""
    return plan_ingest(loaded, paths, ChunkStore().documents())


@task(name="index-documents", **_OPTS)
def index_documents_task(docs: list[Document]) -> IndexStats:
    """Chunk, embed (reusing stored vectors) and upsert one batch of documents."""
    return index_documents(docs, ChunkStore(), batch_docs=max(1, len(docs)))


@task(name="delete-documents", **_OPTS)
def delete_documents_task(doc_ids: list[str]) -> int:
    """Drop the chunks of deleted documents; returns how many chunks went."""
    return ChunkStore().delete_documents(doc_ids)


@task(name="ensure-indexes", **_OPTS)
def ensure_indexes_task() -> dict[str, bool]:
    """Full-text index, vector index when large enough, new rows folded in."""
    return ChunkStore().ensure_indexes()


@task(name="record-documents", **_OPTS)
def record_documents_task(
    plan: IngestPlan, n_chunks: dict[str, int], deleted: list[str]
) -> list[DocumentRecord]:
    """Store each document's hash, source and status (failed ones with their error)."""
    records = document_records(plan, plan.accepted, n_chunks)
    repo = current_repository()
    repo.upsert_documents(records)
    repo.mark_documents_deleted(deleted)
    return records


@task(name="unrecorded-changes", **_OPTS)
def unrecorded_changes_task(plan: IngestPlan, paths: list[str]) -> list[DocumentChange]:
    """Changes already in the store that storage never recorded (a run that died midway)."""
    return unrecorded_changes(plan, current_repository().get_documents(), paths)


@task(name="emit-document-events", **_OPTS)
def emit_changes_task(changes: list[DocumentChange], run_id: str) -> int:
    """One ``verdictflow.document.changed`` event per new, changed or deleted document."""
    for change in changes:
        emit_event(
            event=EVENT_CHANGED,
            resource={
                "prefect.resource.id": f"{RESOURCE_PREFIX}{change.doc_id}",
                "prefect.resource.name": change.doc_id,
            },
            payload={
                "doc_id": change.doc_id,
                "change": change.change,
                "source": change.source,
                "content_hash": change.content_hash,
                "previous_hash": change.previous_hash,
                "ingest_run_id": run_id,
            },
        )
    return len(changes)


@task(name="finish-ingest-run", **_OPTS)
def finish_run_task(run_id: str, status: str, counts: dict, timings: dict) -> None:
    """Record the ingest run's outcome."""
    current_repository().finish_run(run_id, status, counts, timings)
