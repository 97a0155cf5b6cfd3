"""The LanceDB store of chunks: one table, upserted per document through ``merge_insert``.

Rows are keyed on (doc_id, chunk_id). Writing a document's chunks replaces its old chunks in
one transaction (updated, inserted and dropped rows together), so a reader sees either the
old or the new version of a document, never half. Writers take a file lock (one at a time);
readers re-check the latest version on every query.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from verdictflow.config import get_settings
from verdictflow.contracts import Chunk

log = logging.getLogger(__name__)

TABLE_NAME = "chunks"
# Filter keys that are columns; any other key is looked up in the JSON metadata.
COLUMN_FILTERS = ("doc_id", "chunk_id", "source", "domain", "doc_hash", "content_hash")


def chunk_schema(dim: int) -> pa.Schema:
    """Arrow schema of the chunks table for vectors of width ``dim``."""
    return pa.schema(
        [
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("chunk_id", pa.string(), nullable=False),
            pa.field("text", pa.string()),
            pa.field("vector", pa.list_(pa.float32(), dim)),
            pa.field("content_hash", pa.string()),
            pa.field("doc_hash", pa.string()),
            pa.field("source", pa.string()),
            pa.field("domain", pa.string()),
            pa.field("start", pa.int64()),
            pa.field("end", pa.int64()),
            pa.field("metadata", pa.json_(pa.string())),
        ]
    )


def sql_literal(value: Any) -> str:
    """A value as a SQL literal for a LanceDB filter (strings quoted and escaped)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def filter_clause(filters: dict[str, Any] | None) -> str | None:
    """A SQL ``WHERE`` clause from ``{key: value}`` (a list or tuple value means any of them).

    Keys in ``COLUMN_FILTERS`` are columns; others are keys of the JSON ``metadata``.
    """
    if not filters:
        return None
    parts = []
    for key, value in filters.items():
        values = list(value) if isinstance(value, list | tuple | set) else [value]
        if not values:
            raise ValueError(f"filter {key!r} has an empty list of values")
        if key in COLUMN_FILTERS:
            expr = f"`{key}`"
        else:
            sample = values[0]
            fn = (
                "json_get_bool"
                if isinstance(sample, bool)
                else "json_get_int"
                if isinstance(sample, int)
                else "json_get_float"
                if isinstance(sample, float)
                else "json_get_string"
            )
            expr = f"{fn}(metadata, {sql_literal(key)})"
        if len(values) == 1:
            parts.append(f"{expr} = {sql_literal(values[0])}")
        else:
            parts.append(f"{expr} IN ({', '.join(sql_literal(v) for v in values)})")
    return " AND ".join(parts)


def _in_clause(column: str, values: Iterable[str]) -> str:
    return f"`{column}` IN ({', '.join(sql_literal(v) for v in values)})"


class ChunkStore:
    """The ``chunks`` table in the LanceDB folder (``settings.lancedb_path`` by default)."""

    def __init__(self, path: str | Path | None = None, table: str = TABLE_NAME) -> None:
        self.path = Path(path) if path is not None else get_settings().lancedb_path
        self.table_name = table
        self._db = None

    @property
    def db(self):
        """The LanceDB connection (opened on first use; sees other writers' commits)."""
        if self._db is None:
            import lancedb

            self.path.mkdir(parents=True, exist_ok=True)
            self._db = lancedb.connect(str(self.path), read_consistency_interval=timedelta(0))
        return self._db

    def exists(self) -> bool:
        """Whether the table has been created (no folder is created to answer)."""
        if not (self.path / f"{self.table_name}.lance").exists():
            return False
        return self.table_name in self.db.list_tables().tables

    def table(self):
        """The open table, or None when the store is empty or missing."""
        if not self.exists():
            return None
        return self.db.open_table(self.table_name)

    def _create(self, dim: int):
        return self.db.create_table(self.table_name, schema=chunk_schema(dim), exist_ok=True)

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Exclusive writer lock (a file lock in the LanceDB folder)."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / f".{self.table_name}.write.lock", os.O_CREAT | os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # ---- reading -------------------------------------------------------------------------

    def count(self, filters: dict[str, Any] | None = None) -> int:
        """Number of chunks (matching ``filters``)."""
        tbl = self.table()
        return 0 if tbl is None else tbl.count_rows(filter_clause(filters))

    def version(self) -> int:
        """The table's current version (0 when it does not exist)."""
        tbl = self.table()
        return 0 if tbl is None else tbl.version

    def documents(self) -> dict[str, dict[str, Any]]:
        """``doc_id -> {source, doc_hash, n_chunks}`` of every document in the store."""
        tbl = self.table()
        if tbl is None:
            return {}
        rows = tbl.search().select(["doc_id", "doc_hash", "source"]).limit(None).to_arrow()
        out: dict[str, dict[str, Any]] = {}
        for doc_id, doc_hash, source in zip(
            rows["doc_id"].to_pylist(),
            rows["doc_hash"].to_pylist(),
            rows["source"].to_pylist(),
            strict=True,
        ):
            entry = out.setdefault(doc_id, {"source": source, "doc_hash": doc_hash, "n_chunks": 0})
            entry["n_chunks"] += 1
        return out

    def vectors_by_hash(self, content_hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored vectors of chunks with these content hashes (to skip re-embedding)."""
        tbl = self.table()
        hashes = sorted(set(content_hashes))
        if tbl is None or not hashes:
            return {}
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(hashes), 1000):
            rows = (
                tbl.search()
                .where(_in_clause("content_hash", hashes[i : i + 1000]))
                .select(["content_hash", "vector"])
                .limit(None)
                .to_arrow()
            )
            for h, vec in zip(
                rows["content_hash"].to_pylist(), rows["vector"].to_pylist(), strict=True
            ):
                out[h] = np.asarray(vec, dtype=np.float32)
        return out

    def texts(self) -> list[str]:
        """Every chunk's text, nothing else (corpus statistics: the alignment expert's idf)."""
        tbl = self.table()
        if tbl is None:
            return []
        return tbl.search().select(["text"]).limit(None).to_arrow()["text"].to_pylist()

    def get_chunks(self, filters: dict[str, Any] | None = None) -> list[Chunk]:
        """All chunks matching ``filters``, in document order (vectors left out)."""
        tbl = self.table()
        if tbl is None:
            return []
        query = tbl.search()
        clause = filter_clause(filters)
        if clause:
            query = query.where(clause)
        rows = query.limit(None).to_list()
        rows.sort(key=lambda r: (r["doc_id"], r["start"], r["chunk_id"]))
        return [row_to_chunk(r) for r in rows]

    # ---- writing -------------------------------------------------------------------------

    def upsert_documents(
        self, chunks: Sequence[Chunk], doc_hashes: dict[str, str], vectors: np.ndarray
    ) -> int:
        """Replace the chunks of the documents in ``doc_hashes`` by ``chunks``, in one commit.

        Args:
            chunks: The new chunks of those documents (their old chunks not listed go).
            doc_hashes: ``doc_id -> content hash`` of each document being written.
            vectors: ``[len(chunks), dim]`` embeddings, in the order of ``chunks``.

        Returns:
            The table version after the write.
        """
        if not doc_hashes:
            return self.version()
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        missing = {c.doc_id for c in chunks} - set(doc_hashes)
        if missing:
            raise ValueError(f"chunks of documents without a hash: {sorted(missing)[:5]}")
        dim = int(vectors.shape[1]) if len(vectors) else None
        data = chunks_to_arrow(chunks, doc_hashes, vectors, dim)
        with self.write_lock():
            tbl = self.table()
            if tbl is None:
                if dim is None:  # nothing to write, nothing to delete
                    return 0
                tbl = self._create(dim)
            if dim is None:  # only deletions: an empty source with the table's own schema
                data = tbl.schema.empty_table()
            (
                tbl.merge_insert(["doc_id", "chunk_id"])
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .when_not_matched_by_source_delete(_in_clause("doc_id", sorted(doc_hashes)))
                .execute(data)
            )
            return tbl.version

    def delete_documents(self, doc_ids: Iterable[str]) -> int:
        """Remove every chunk of these documents; returns the number of chunks removed."""
        ids = sorted(set(doc_ids))
        tbl = self.table()
        if tbl is None or not ids:
            return 0
        with self.write_lock():
            clause = _in_clause("doc_id", ids)
            n = tbl.count_rows(clause)
            if n:
                tbl.delete(clause)
            return n

    def ensure_indexes(self) -> dict[str, bool]:
        """Full-text index on ``text`` (always) and an ANN vector index once the table holds
        ``settings.retrieval.vector_index_min_rows`` chunks; new rows are folded into the
        existing indexes. Returns which indexes exist afterwards."""
        from lancedb.index import FTS, IvfPq

        tbl = self.table()
        if tbl is None:
            return {"fts": False, "vector": False}
        with self.write_lock():
            indices = {ix.index_type: ix for ix in tbl.list_indices()}
            n = tbl.count_rows()
            has_fts = "FTS" in indices
            has_vec = any(t.upper().startswith("IVF") for t in indices)
            if n and not has_fts:
                tbl.create_index("text", config=FTS(with_position=False))
                has_fts = True
            min_rows = get_settings().retrieval.vector_index_min_rows
            if n >= min_rows and not has_vec:
                tbl.create_index(
                    "vector",
                    config=IvfPq(distance_type="cosine", num_partitions=max(1, int(n**0.5))),
                )
                has_vec = True
            stale = any(
                (tbl.index_stats(ix.name) or _NoStats).num_unindexed_rows
                for ix in tbl.list_indices()
            )
            if stale:
                tbl.optimize()
        return {"fts": has_fts, "vector": has_vec}


class _NoStats:
    num_unindexed_rows = 0


def chunks_to_arrow(
    chunks: Sequence[Chunk], doc_hashes: dict[str, str], vectors: np.ndarray, dim: int | None
) -> pa.Table:
    """Chunks and their vectors as an Arrow table of the chunks schema."""
    schema = chunk_schema(dim or 1)
    columns = {
        "doc_id": [c.doc_id for c in chunks],
        "chunk_id": [c.chunk_id for c in chunks],
        "text": [c.text for c in chunks],
        "vector": pa.FixedSizeListArray.from_arrays(
            pa.array(np.asarray(vectors, dtype=np.float32).reshape(-1)), dim or 1
        ),
        "content_hash": [c.content_hash for c in chunks],
        "doc_hash": [doc_hashes[c.doc_id] for c in chunks],
        "source": [c.source for c in chunks],
        "domain": [str(c.metadata.get("domain", "")) for c in chunks],
        "start": [c.start for c in chunks],
        "end": [c.end for c in chunks],
        "metadata": [json.dumps(c.metadata, sort_keys=True, default=str) for c in chunks],
    }
    arrays = [
        columns[f.name] if isinstance(columns[f.name], pa.Array) else pa.array(columns[f.name])
        for f in schema
    ]
    arrays[-1] = pa.ExtensionArray.from_storage(pa.json_(pa.string()), arrays[-1])
    return pa.Table.from_arrays(arrays, schema=schema)


def row_to_chunk(row: dict[str, Any]) -> Chunk:
    """A row of the chunks table as a Chunk (without its vector)."""
    meta = row.get("metadata")
    if isinstance(meta, bytes | str):
        meta = json.loads(meta) if meta else {}
    return Chunk(
        doc_id=row["doc_id"],
        chunk_id=row["chunk_id"],
        text=row["text"],
        content_hash=row["content_hash"],
        source=row.get("source") or "",
        start=int(row.get("start") or 0),
        end=int(row.get("end") or 0),
        metadata=meta or {},
    )
