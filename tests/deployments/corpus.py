"""A tiny corpus written with the real chunker, embedder, LanceDB store and repository."""

from __future__ import annotations

import json
from pathlib import Path

from retrieval.chunking import chunk_text, text_hash
from retrieval.embedding import embed_texts
from retrieval.store import ChunkStore
from storage.repository import Repository
from verdictflow.contracts import DocumentRecord

DOCS = {
    "fjell": (
        "The Fjell S1 is a portable Bluetooth speaker rated IP67. It weighs 1.1 kilograms "
        "and plays for up to 20 hours on a charge."
    ),
    "aurora": (
        "The Aurora K2 is an electric kettle. The Aurora K2 kettle holds 1.7 litres and boils "
        "water in four minutes."
    ),
}
FJELL_CHANGED = (
    "The Fjell S1 is a portable Bluetooth speaker rated IP67. It weighs 1.1 kilograms "
    "and plays for up to 12 hours on a charge."
)
ITEMS = [
    {"id": "speaker", "text": "The Fjell S1 plays for up to 20 hours on a charge."},
    {"id": "kettle", "text": "The Aurora K2 kettle holds 1.7 litres."},
]


def db_url(home: Path) -> str:
    """The SQLite database verdictflow uses under ``home``."""
    return f"sqlite:///{(home / 'verdictflow.db').resolve()}"


def write_documents(home: Path, docs: dict[str, str]) -> None:
    """Chunk, embed and upsert documents into LanceDB and the documents table under ``home``."""
    store = ChunkStore(home / "lancedb")
    chunks = [c for doc_id, text in docs.items() for c in chunk_text(text, doc_id, f"{doc_id}.txt")]
    hashes = {doc_id: text_hash(text) for doc_id, text in docs.items()}
    store.upsert_documents(chunks, hashes, embed_texts([c.text for c in chunks]))
    store.ensure_indexes()
    repo = Repository(db_url(home))
    repo.upgrade()
    repo.upsert_documents(
        [
            DocumentRecord(
                doc_id=doc_id,
                source=f"{doc_id}.txt",
                content_hash=hashes[doc_id],
                n_chunks=sum(1 for c in chunks if c.doc_id == doc_id),
            )
            for doc_id in docs
        ]
    )
    repo.dispose()


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """Records as one JSON object a line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path
