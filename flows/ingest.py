"""The ingest flow: load, diff by hash, chunk + embed + upsert what changed, drop what went,
record every document, and emit ``verdictflow.document.changed`` per changed document."""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import nullcontext
from pathlib import Path

from prefect import flow, get_run_logger

from retrieval.ingest import IngestPlan, summary_counts
from tasks.domain import emit_stale_domains_task, has_domain_experts
from tasks.ingest import (
    delete_documents_task,
    emit_changes_task,
    ensure_indexes_task,
    finish_run_task,
    index_documents_task,
    load_documents_task,
    plan_ingest_task,
    record_documents_task,
    start_run_task,
    unrecorded_changes_task,
)
from verdictflow.config import get_settings
from verdictflow.verdicts import code_version


def _progress(show: bool, total: int):
    if not show or not total:
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        redirect_stdout=False,  # Prefect's log handlers hold sys.stderr: never swap it
        redirect_stderr=False,
    )


def _index(plan: IngestPlan, show_progress: bool) -> tuple[dict[str, int], int]:
    """Index the new and changed documents batch by batch; (chunks per doc, embedded)."""
    size = get_settings().retrieval.ingest_batch_docs
    docs = plan.to_write
    n_chunks: dict[str, int] = {}
    embedded = 0
    with _progress(show_progress, len(docs)) as bar:
        bar_task = bar.add_task("indexing documents", total=len(docs)) if bar else None
        for i in range(0, len(docs), size):
            stats = index_documents_task(docs[i : i + size])
            n_chunks.update(stats.n_chunks)
            embedded += stats.embedded
            if bar is not None:
                bar.advance(bar_task, len(docs[i : i + size]))
    return n_chunks, embedded


def ingest_run_id(paths: list[str], text_column: str | None, id_column: str | None) -> str:
    """The run of one ingest of these paths as they are now: the same files (name, size,
    modification time) and columns give the same run, so a killed ingest that is run again
    resumes and closes its own run record; changed files make a new run."""
    digest = hashlib.sha256(json.dumps([text_column, id_column]).encode())
    for root in sorted(paths):
        path = Path(root)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            stat = file.stat() if file.exists() else None
            entry = [str(file), stat.st_size, stat.st_mtime_ns] if stat else [str(file)]
            digest.update(json.dumps(entry).encode())
    return f"ingest-{digest.hexdigest()[:16]}"


@flow(name="ingest", log_prints=True)
def ingest_documents(
    paths: list[str],
    run_id: str | None = None,
    text_column: str | None = None,
    id_column: str | None = None,
    show_progress: bool = False,
) -> dict:
    """Ingest files and folders into the corpus; only new and changed documents are embedded.

    Args:
        paths: Files or folders (.txt .md .html .pdf, and .jsonl .csv .parquet with one
            document per row).
        run_id: Id of the run record; default ``ingest_run_id`` (the paths as they are).
        text_column: Text column of tables; default ``settings.retrieval.text_column``.
        id_column: Id column of tables; default ``settings.retrieval.id_column``.
        show_progress: Draw a progress bar (the CLI does).

    Returns:
        ``{"run_id", "counts", "failures", "skipped", "changes", "timings"}``; counts hold
        new, changed, unchanged, deleted, failed, skipped (files of a folder of a type no
        loader reads), chunks and embedded.
    """
    log = get_run_logger()
    paths = [str(Path(p).expanduser().resolve()) for p in paths]
    run_id = run_id or ingest_run_id(paths, text_column, id_column)
    t0 = time.perf_counter()
    start_run_task(
        run_id, {"paths": paths, "text_column": text_column, "id_column": id_column}, code_version()
    )
    try:
        loaded = load_documents_task(paths, text_column, id_column)
        plan = plan_ingest_task(loaded, paths)
        t1 = time.perf_counter()
        n_chunks, embedded = _index(plan, show_progress)
        deleted = plan.ids("deleted")
        delete_documents_task(deleted)
        if plan.to_write or deleted:
            ensure_indexes_task()
        t2 = time.perf_counter()
        changes = plan.changes + unrecorded_changes_task(plan, paths)
        emit_changes_task(changes, run_id)
        if changes and has_domain_experts():  # domain experts to keep current
            emit_stale_domains_task(run_id)
        record_documents_task(plan, n_chunks, [c.doc_id for c in changes if c.change == "deleted"])
    except BaseException:
        finish_run_task(run_id, "failed", {}, {"total_s": time.perf_counter() - t0})
        raise
    counts = summary_counts(plan)
    counts.update(chunks=sum(n_chunks.values()), embedded=embedded, events=len(changes))
    timings = {"load_s": t1 - t0, "index_s": t2 - t1, "total_s": time.perf_counter() - t0}
    for failure in plan.failures:
        log.warning("document %s failed (%s): %s", failure.doc_id, failure.rule, failure.message)
    for skipped in plan.skipped:
        log.warning("file %s skipped: %s", skipped.source, skipped.reason)
    log.info("ingest %s: %s", run_id, counts)
    finish_run_task(run_id, "completed", counts, timings)
    return {
        "run_id": run_id,
        "counts": counts,
        "failures": [f.model_dump() for f in plan.failures],
        "skipped": [f.model_dump() for f in plan.skipped],
        "changes": [c.model_dump() for c in changes],
        "timings": timings,
    }
