"""The LanceDB store and search: upsert semantics, filters, the three modes."""

from __future__ import annotations

import pytest

from retrieval.chunking import chunk_text
from retrieval.embedding import embed_texts
from retrieval.search import search, search_many
from retrieval.store import ChunkStore, filter_clause

DOCS = {
    "paris": ("Paris is the capital of France. The Eiffel Tower stands in Paris.", "geo", 2020),
    "berlin": ("Berlin is the capital of Germany. The Brandenburg Gate is there.", "geo", 2021),
    "cats": ("Cats are small carnivorous mammals. Domestic cats sleep a lot.", "animals", 2020),
    "einstein": ("Albert Einstein developed the theory of relativity in 1905.", "science", 1905),
}


def write(store: ChunkStore, docs: dict, version: str = "v1") -> int:
    chunks = [
        c
        for doc_id, (text, domain, year) in docs.items()
        for c in chunk_text(
            text, doc_id, source=f"/corpus/{doc_id}.txt", metadata={"domain": domain, "year": year}
        )
    ]
    vectors = embed_texts([c.text for c in chunks])
    return store.upsert_documents(chunks, {d: f"{d}-{version}" for d in docs}, vectors)


@pytest.fixture
def store(home) -> ChunkStore:
    store = ChunkStore()
    write(store, DOCS)
    store.ensure_indexes()
    return store


def test_missing_store_gives_no_hits(home):
    store = ChunkStore()
    assert not store.exists() and store.count() == 0 and store.documents() == {}
    for mode in ("vector", "fts", "hybrid"):
        assert search("anything at all", mode=mode) == []
    assert not (home / "lancedb" / "chunks.lance").exists()


@pytest.mark.parametrize("mode", ["vector", "fts", "hybrid"])
def test_each_mode_finds_the_right_document(store, mode):
    hits = search("Who developed the theory of relativity?", k=3, mode=mode)
    assert hits[0].doc_id == "einstein"
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))
    assert hits[0].text.startswith("Albert Einstein") and hits[0].source == "/corpus/einstein.txt"


def test_filters_on_columns_and_metadata(store):
    q = "capital city"
    assert {h.doc_id for h in search(q, k=10, filters={"domain": "animals"})} == {"cats"}
    assert {h.doc_id for h in search(q, k=10, filters={"year": 2020})} == {"paris", "cats"}
    assert {h.doc_id for h in search(q, k=10, filters={"year": [1905, 2021]})} == {
        "einstein",
        "berlin",
    }
    assert {h.doc_id for h in search(q, k=10, filters={"source": "/corpus/berlin.txt"})} == {
        "berlin"
    }
    both = search(q, k=10, mode="fts", filters={"domain": "geo", "year": 2021})
    assert [h.doc_id for h in both] == ["berlin"]
    assert search(q, k=10, filters={"domain": "nothing"}) == []
    assert search(q, k=10, where="start = 0 AND doc_id = 'paris'")[0].doc_id == "paris"


def test_filter_clause_quotes_values():
    clause = filter_clause({"source": "it's", "lang": "en", "n": 3})
    assert "'it''s'" in clause and "json_get_string(metadata, 'lang') = 'en'" in clause
    assert "json_get_int(metadata, 'n') = 3" in clause
    with pytest.raises(ValueError, match="empty"):
        filter_clause({"domain": []})


def test_search_many_embeds_in_one_batch_and_keeps_order(store):
    results = search_many(["relativity physics", "sleeping cats"], k=1, mode="vector")
    assert [r[0].doc_id for r in results] == ["einstein", "cats"]


def test_fts_survives_query_syntax(store):
    assert search('"Einstein" AND (relativity) OR -x* :', mode="fts")[0].doc_id == "einstein"
    assert search("?!", mode="fts") == []


def test_bad_mode_and_k_are_refused(store):
    with pytest.raises(ValueError, match="unknown search mode"):
        search("x", mode="semantic")
    with pytest.raises(ValueError, match="k must be"):
        search("x", k=-1)


def test_upsert_replaces_a_documents_chunks_in_one_version(store):
    before = store.version()
    long_text = " ".join(f"Sentence number {i} about Paris." for i in range(60))
    write(store, {"paris": (long_text, "geo", 2020)}, version="v2")
    assert store.version() == before + 1
    chunks = store.get_chunks({"doc_id": "paris"})
    assert len(chunks) > 1 and all("Sentence number" in c.text for c in chunks)
    assert store.documents()["paris"]["doc_hash"] == "paris-v2"
    # shrink it again: surplus chunks of the old version go in the same step
    write(store, {"paris": ("Paris is small now.", "geo", 2020)}, version="v3")
    assert [c.text for c in store.get_chunks({"doc_id": "paris"})] == ["Paris is small now."]
    assert store.count() == 4


def test_delete_and_reuse_vectors(store):
    (chunk,) = store.get_chunks({"doc_id": "cats"})
    vectors = store.vectors_by_hash([chunk.content_hash, "unknown"])
    assert list(vectors) == [chunk.content_hash] and vectors[chunk.content_hash].shape == (384,)
    assert store.delete_documents(["cats", "nope"]) == 1
    assert "cats" not in store.documents() and store.count() == 3
    assert store.delete_documents(["cats"]) == 0


def test_indexes(store, monkeypatch):
    kinds = {ix.index_type for ix in store.table().list_indices()}
    assert "FTS" in kinds and not any(k.upper().startswith("IVF") for k in kinds)
    # new rows reach the full-text index after ensure_indexes
    write(store, {"tokyo": ("Tokyo is the capital of Japan.", "geo", 2022)})
    store.ensure_indexes()
    assert search("Tokyo Japan", mode="fts")[0].doc_id == "tokyo"
    assert all(
        store.table().index_stats(ix.name).num_unindexed_rows == 0
        for ix in store.table().list_indices()
    )


def test_vector_index_once_the_table_is_large_enough(home, monkeypatch):
    import numpy as np

    from verdictflow.config import reset_settings
    from verdictflow.contracts import Chunk

    monkeypatch.setenv("VERDICTFLOW_RETRIEVAL__VECTOR_INDEX_MIN_ROWS", "300")
    reset_settings()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(320, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks = [
        Chunk(doc_id=f"d{i}", chunk_id=f"d{i}#0", text=f"row {i}", content_hash=f"h{i}")
        for i in range(320)
    ]
    store = ChunkStore()
    store.upsert_documents(chunks[:200], {f"d{i}": "x" for i in range(200)}, vectors[:200])
    assert store.ensure_indexes() == {"fts": True, "vector": False}
    store.upsert_documents(chunks[200:], {f"d{i}": "x" for i in range(200, 320)}, vectors[200:])
    assert store.ensure_indexes() == {"fts": True, "vector": True}
    assert any(ix.index_type.upper().startswith("IVF") for ix in store.table().list_indices())
    hits = search_many(["row 7"], k=3, mode="vector", vectors=vectors[7:8], store=store)[0]
    assert hits[0].doc_id == "d7"


def test_concurrent_writers_take_turns_and_readers_see_new_data(store):
    import threading

    reader = ChunkStore()  # a second handle, opened before the writes
    assert reader.count() == 4
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            write(ChunkStore(), {f"w{i}": (f"Writer {i} wrote this sentence.", "geo", i)})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert reader.count() == 8
    assert {f"w{i}" for i in range(4)} <= set(reader.documents())
