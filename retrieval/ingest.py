"""Incremental ingest: find new, changed, unchanged and deleted documents by content hash,
then chunk, embed and upsert only what changed.

The chunk store is the truth about what is indexed: a document is unchanged when the store
holds it with the same hash, and then nothing is written (no new table version). A chunk whose
content hash is already stored reuses its vector instead of being embedded again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from retrieval.chunking import chunk_text
from retrieval.embedding import embed_texts
from retrieval.loaders import Document, LoadFailure, LoadResult, SkippedFile, load_documents
from retrieval.store import ChunkStore
from verdictflow.config import get_settings
from verdictflow.contracts import DocumentRecord

CHANGE_KINDS = ("new", "changed", "deleted")


class DocumentChange(BaseModel):
    """A document that is new, changed or deleted in this ingest."""

    doc_id: str
    change: str  # new | changed | deleted
    source: str
    content_hash: str
    previous_hash: str | None = None


class IngestPlan(BaseModel):
    """What an ingest will do, document by document."""

    accepted: list[Document] = Field(default_factory=list)  # loaded, ids unique
    to_write: list[Document] = Field(default_factory=list)  # new or changed
    changes: list[DocumentChange] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    failures: list[LoadFailure] = Field(default_factory=list)
    skipped: list[SkippedFile] = Field(default_factory=list)  # files of a folder not read
    known: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def ids(self, change: str) -> list[str]:
        """Doc ids with this kind of change."""
        return [c.doc_id for c in self.changes if c.change == change]


class IndexStats(BaseModel):
    """What writing documents to the store did."""

    n_chunks: dict[str, int] = Field(default_factory=dict)
    embedded: int = 0
    reused: int = 0
    version: int = 0


def _in_scope(source: str, roots: Sequence[Path]) -> bool:
    path = Path(source)
    return any(path == root or root in path.parents for root in roots)


class _IdResolver:
    """Final doc ids of the documents (and failures) of one load, against the store.

    An id made from a path (``alt_id`` set) names one file: the id the store already holds
    for that file (or row) is kept; else the short id (relative to the folder given), unless
    another file that still exists holds it in the store or in this load; then the absolute
    path (``alt_id``). So the same file keeps its id however it is named, and two files of
    the same name in two folders never replace each other. An id of the data's own (a
    table's id column) is kept as it is.
    """

    def __init__(self, known: dict[str, dict[str, Any]]) -> None:
        self.owner = {doc_id: info.get("source") or "" for doc_id, info in known.items()}
        self.by_source: dict[str, list[str]] = {}
        for doc_id, source in sorted(self.owner.items()):
            self.by_source.setdefault(source, []).append(doc_id)
        self.claimed: dict[str, str] = {}  # id -> source, in this load

    def _taken(self, doc_id: str, source: str) -> bool:
        other = self.claimed.get(doc_id)
        if other is not None:
            return other != source
        owner = self.owner.get(doc_id)
        return owner is not None and owner != source and Path(owner).exists()

    def __call__(self, doc_id: str, alt_id: str | None, source: str) -> str:
        if alt_id is None:
            return doc_id
        stored = [
            k
            for k in self.by_source.get(source, [])
            if (k == alt_id or alt_id.endswith("/" + k)) and self.claimed.get(k, source) == source
        ]
        if doc_id in stored or alt_id in stored:
            final = doc_id if doc_id in stored else alt_id
        elif stored:
            final = stored[0]
        else:
            final = alt_id if self._taken(doc_id, source) else doc_id
        self.claimed.setdefault(final, source)
        return final


def plan_ingest(
    loaded: LoadResult, roots: Sequence[str | Path], known: dict[str, dict[str, Any]]
) -> IngestPlan:
    """Compare loaded documents with the store's (``ChunkStore.documents()``).

    Ids made from a path are resolved first (``_IdResolver``): a file whose short id another
    file holds gets its absolute path as id. A stored document is deleted when its source
    lies inside ``roots`` and it was not loaded now, unless loading it (or its whole file)
    failed: a failure never removes the previous version. A doc_id of the data's own loaded
    twice from different sources fails the second time.
    """
    resolved = [Path(r).expanduser().resolve() for r in roots]
    resolve = _IdResolver(known)
    documents = [
        d.model_copy(update={"doc_id": resolve(d.doc_id, d.alt_id, d.source)})
        for d in loaded.documents
    ]
    failures = [
        f.model_copy(update={"doc_id": resolve(f.doc_id, f.alt_id, f.source)})
        for f in loaded.failures
    ]
    failed_ids = {f.doc_id for f in failures}
    failed_files = {f.source for f in failures if f.whole_file}
    plan = IngestPlan(known=known, skipped=loaded.skipped)
    seen: dict[str, str] = {}
    for doc in documents:
        if doc.doc_id in seen:
            failures.append(
                LoadFailure(
                    doc_id=doc.doc_id,
                    source=doc.source,
                    rule="duplicate_id",
                    message=f"doc_id {doc.doc_id!r} of {doc.source} was already loaded "
                    f"from {seen[doc.doc_id]}",
                    whole_file=False,
                )
            )
            continue
        seen[doc.doc_id] = doc.source
        plan.accepted.append(doc)
        before = known.get(doc.doc_id)
        if before is None:
            plan.changes.append(
                DocumentChange(
                    doc_id=doc.doc_id,
                    change="new",
                    source=doc.source,
                    content_hash=doc.content_hash,
                )
            )
            plan.to_write.append(doc)
        elif before.get("doc_hash") != doc.content_hash:
            plan.changes.append(
                DocumentChange(
                    doc_id=doc.doc_id,
                    change="changed",
                    source=doc.source,
                    content_hash=doc.content_hash,
                    previous_hash=before.get("doc_hash"),
                )
            )
            plan.to_write.append(doc)
        else:
            plan.unchanged.append(doc.doc_id)
    for doc_id, info in sorted(known.items()):
        source = info.get("source") or ""
        if doc_id in seen or doc_id in failed_ids or source in failed_files:
            continue
        if _in_scope(source, resolved):
            plan.changes.append(
                DocumentChange(
                    doc_id=doc_id,
                    change="deleted",
                    source=source,
                    content_hash="",
                    previous_hash=info.get("doc_hash"),
                )
            )
    plan.failures = failures
    return plan


def unrecorded_changes(
    plan: IngestPlan, recorded: dict[str, DocumentRecord], roots: Sequence[str | Path]
) -> list[DocumentChange]:
    """Changes the store already holds but storage never recorded (an ingest that died after
    writing chunks): unchanged documents whose record is missing or stale, and recorded active
    documents in scope that are in neither the store nor this load. Their events are re-sent."""
    resolved = [Path(r).expanduser().resolve() for r in roots]
    out = []
    for doc in plan.accepted:
        rec = recorded.get(doc.doc_id)
        if doc.doc_id in plan.unchanged and (
            rec is None or rec.status != "active" or rec.content_hash != doc.content_hash
        ):
            out.append(
                DocumentChange(
                    doc_id=doc.doc_id,
                    change="new" if rec is None else "changed",
                    source=doc.source,
                    content_hash=doc.content_hash,
                    previous_hash=None if rec is None else rec.content_hash,
                )
            )
    loaded = {d.doc_id for d in plan.accepted} | {f.doc_id for f in plan.failures}
    planned = {c.doc_id for c in plan.changes}
    for doc_id, rec in sorted(recorded.items()):
        if (
            rec.status == "active"
            and doc_id not in loaded
            and doc_id not in planned
            and doc_id not in plan.known
            and _in_scope(rec.source, resolved)
        ):
            out.append(
                DocumentChange(
                    doc_id=doc_id,
                    change="deleted",
                    source=rec.source,
                    content_hash="",
                    previous_hash=rec.content_hash,
                )
            )
    return out


def _embed_new(texts: list[str], hashes: list[str], store: ChunkStore) -> tuple[np.ndarray, int]:
    """Vectors for chunks: stored ones by content hash, the rest embedded (each text once)."""
    known = store.vectors_by_hash(hashes)
    missing: dict[str, str] = {}
    for text, h in zip(texts, hashes, strict=True):
        if h not in known:
            missing.setdefault(h, text)
    if missing:
        fresh = embed_texts(list(missing.values()))
        known.update(zip(missing.keys(), fresh, strict=True))
    if not hashes:
        return np.zeros((0, 1), dtype=np.float32), 0
    return np.stack([known[h] for h in hashes]).astype(np.float32), len(missing)


def index_documents(
    docs: Sequence[Document],
    store: ChunkStore | None = None,
    batch_docs: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> IndexStats:
    """Chunk, embed and upsert documents, one LanceDB commit per batch of documents.

    A document's old chunks are replaced in the same commit that writes its new ones, so a
    failure leaves every document either at its old or at its new version.
    """
    store = store or ChunkStore()
    batch_docs = batch_docs or get_settings().retrieval.ingest_batch_docs
    stats = IndexStats(version=store.version())
    for i in range(0, len(docs), batch_docs):
        batch = docs[i : i + batch_docs]
        chunks = [
            c
            for d in batch
            for c in chunk_text(d.text, d.doc_id, source=d.source, metadata=d.metadata)
        ]
        vectors, embedded = _embed_new(
            [c.text for c in chunks], [c.content_hash for c in chunks], store
        )
        stats.version = store.upsert_documents(
            chunks, {d.doc_id: d.content_hash for d in batch}, vectors
        )
        stats.embedded += embedded
        stats.reused += len(chunks) - embedded
        for c in chunks:
            stats.n_chunks[c.doc_id] = stats.n_chunks.get(c.doc_id, 0) + 1
        if on_progress:
            on_progress(len(batch))
    return stats


def document_records(
    plan: IngestPlan, docs: Sequence[Document], n_chunks: dict[str, int]
) -> list[DocumentRecord]:
    """Storage records of an ingest: active documents (written or unchanged) and failures.

    A failed document keeps the hash and chunk count of the version still in the store.
    """
    records = []
    for doc in docs:
        chunks = n_chunks.get(doc.doc_id, plan.known.get(doc.doc_id, {}).get("n_chunks", 0))
        records.append(
            DocumentRecord(
                doc_id=doc.doc_id,
                source=doc.source,
                content_hash=doc.content_hash,
                n_chunks=chunks,
                metadata=doc.metadata,
            )
        )
    for failure in plan.failures:
        before = plan.known.get(failure.doc_id, {})
        records.append(
            failure.record().model_copy(
                update={
                    "content_hash": before.get("doc_hash") or "",
                    "n_chunks": before.get("n_chunks", 0),
                }
            )
        )
    return records


class IngestReport(BaseModel):
    """The outcome of ``ingest_paths``."""

    counts: dict[str, int]
    changes: list[DocumentChange]
    records: list[DocumentRecord]
    failures: list[LoadFailure]
    skipped: list[SkippedFile] = Field(default_factory=list)
    timings: dict[str, float]
    version: int


def summary_counts(plan: IngestPlan) -> dict[str, int]:
    """new / changed / unchanged / deleted / failed / skipped (files of a folder not read)."""
    counts = {kind: len(plan.ids(kind)) for kind in CHANGE_KINDS}
    counts.update(
        unchanged=len(plan.unchanged), failed=len(plan.failures), skipped=len(plan.skipped)
    )
    return counts


def ingest_paths(
    paths: Sequence[str | Path],
    store: ChunkStore | None = None,
    text_column: str | None = None,
    id_column: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Load, diff, index and clean up: the whole ingest without storage or events."""
    store = store or ChunkStore()
    t0 = time.perf_counter()
    loaded = load_documents(paths, text_column=text_column, id_column=id_column)
    t1 = time.perf_counter()
    plan = plan_ingest(loaded, paths, store.documents())
    stats = index_documents(plan.to_write, store, on_progress=on_progress)
    store.delete_documents(plan.ids("deleted"))
    if plan.to_write or plan.ids("deleted"):
        store.ensure_indexes()
    t2 = time.perf_counter()
    counts = summary_counts(plan)
    counts.update(chunks=sum(stats.n_chunks.values()), embedded=stats.embedded)
    return IngestReport(
        counts=counts,
        changes=plan.changes,
        records=document_records(plan, plan.accepted, stats.n_chunks),
        failures=plan.failures,
        skipped=plan.skipped,
        timings={"load_s": t1 - t0, "index_s": t2 - t1},
        version=store.version(),
    )
