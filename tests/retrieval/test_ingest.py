"""Incremental ingest (library): idempotence, change and delete detection, bad input."""

from __future__ import annotations

import json

import pytest

from retrieval import ingest as ingest_module
from retrieval.ingest import ingest_paths
from retrieval.search import search
from retrieval.store import ChunkStore
from tests.retrieval.files import write_corpus


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "corpus")


def test_first_ingest_indexes_every_document(home, corpus):
    report = ingest_paths([corpus])
    assert report.counts["new"] == 8 and report.counts["failed"] == 0
    store = ChunkStore()
    assert set(store.documents()) == {r.doc_id for r in report.records}
    assert store.count() == report.counts["chunks"] >= 8
    assert all(r.status == "active" and r.n_chunks >= 1 for r in report.records)
    assert search("When did Apollo 11 land?", k=1)[0].doc_id == "moon.pdf"
    assert search("highest mountain", k=1, filters={"domain": "geography"})[0].doc_id == (
        "r-everest"
    )


def test_same_input_twice_writes_nothing(home, corpus):
    ingest_paths([corpus])
    store = ChunkStore()
    version, rows = store.version(), store.count()
    report = ingest_paths([corpus])
    assert report.counts == {
        "new": 0, "changed": 0, "deleted": 0, "unchanged": 8, "failed": 0, "skipped": 0,
        "chunks": 0, "embedded": 0,
    }  # fmt: skip
    assert report.changes == []
    assert store.version() == version and store.count() == rows


def test_changes_and_deletes_are_found(home, corpus):
    ingest_paths([corpus])
    store = ChunkStore()
    (corpus / "paris.txt").write_text("Paris is the capital of France. It has 2.1 million people.")
    (corpus / "sub" / "cats.md").unlink()
    rows = [json.loads(line) for line in (corpus / "facts.jsonl").read_text().splitlines()]
    (corpus / "facts.jsonl").write_text(json.dumps(rows[0]) + "\n")  # r-everest goes
    (corpus / "new.txt").write_text("Venus is the hottest planet in the Solar System.")
    report = ingest_paths([corpus])
    kinds = {c.doc_id: c.change for c in report.changes}
    assert kinds == {
        "paris.txt": "changed",
        "sub/cats.md": "deleted",
        "r-everest": "deleted",
        "new.txt": "new",
    }
    changed = next(c for c in report.changes if c.doc_id == "paris.txt")
    assert changed.previous_hash and changed.previous_hash != changed.content_hash
    assert report.counts["unchanged"] == 5 and report.counts["embedded"] == 2
    assert "sub/cats.md" not in store.documents() and "r-everest" not in store.documents()
    assert "2.1 million" in store.get_chunks({"doc_id": "paris.txt"})[0].text
    assert search("hottest planet", k=1)[0].doc_id == "new.txt"


def test_deletes_only_within_the_given_paths(home, corpus, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("Another folder with its own document.")
    ingest_paths([corpus])
    ingest_paths([other])
    assert "x.txt" in ChunkStore().documents() and "paris.txt" in ChunkStore().documents()
    report = ingest_paths([corpus / "paris.txt"])
    assert report.changes == [] and report.counts["unchanged"] == 1


def test_unchanged_chunks_are_not_embedded_again(home, tmp_path, monkeypatch):
    text = " ".join(f"Fact number {i} is about the sea and the sky." for i in range(40))
    (tmp_path / "long.txt").write_text(text)
    first = ingest_paths([tmp_path])
    assert first.counts["chunks"] > 3
    (tmp_path / "long.txt").write_text(text + " One more fact at the very end.")
    embedded: list[str] = []
    real = ingest_module.embed_texts

    def counting(texts, *args, **kwargs):
        embedded.extend(texts)
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(ingest_module, "embed_texts", counting)
    second = ingest_paths([tmp_path])
    assert second.counts["changed"] == 1
    assert second.counts["embedded"] == len(embedded) == 1
    assert embedded[0].endswith("One more fact at the very end.")


def test_bad_input_fails_per_document_and_the_rest_goes_on(home, corpus):
    (corpus / "binary.txt").write_bytes(b"\x00\xff\x00 garbage")
    (corpus / "empty.txt").write_text("")
    (corpus / "rows.jsonl").write_text(
        '{"id": "blank", "text": "  "}\n{"id": "ok", "text": "Ok."}\n'
    )
    report = ingest_paths([corpus])
    failed = {f.doc_id: f.rule for f in report.failures}
    assert failed == {
        "binary.txt": "binary",
        "empty.txt": "empty_document",
        "blank": "missing_text",
    }
    assert report.counts["new"] == 9
    records = {r.doc_id: r for r in report.records}
    assert records["binary.txt"].status == "failed"
    assert records["binary.txt"].error.startswith("binary:")
    assert records["ok"].status == "active"


def test_a_failing_ingest_leaves_the_previous_version_searchable(home, corpus, monkeypatch):
    ingest_paths([corpus])
    store = ChunkStore()
    before = {d: info["doc_hash"] for d, info in store.documents().items()}
    # 1. a document that turns bad keeps its old chunks (not deleted, not replaced)
    (corpus / "paris.txt").write_bytes(b"\x00\x00 corrupted")
    report = ingest_paths([corpus])
    assert [f.doc_id for f in report.failures] == ["paris.txt"]
    assert report.changes == []
    assert search("capital of France", k=1)[0].doc_id == "paris.txt"
    # 2. the process dies halfway through writing: batches already written are complete,
    #    the rest keep their previous version, and everything stays searchable
    for name in ("paris.txt", "water.html"):
        (corpus / name).write_text(f"{name} rewritten: a brand new text about oceans.")
    real = ingest_module.embed_texts
    calls = {"n": 0}

    def dying(texts, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(ingest_module, "embed_texts", dying)
    monkeypatch.setenv("VERDICTFLOW_RETRIEVAL__INGEST_BATCH_DOCS", "1")
    from verdictflow.config import reset_settings

    reset_settings()
    with pytest.raises(RuntimeError, match="worker killed"):
        ingest_paths([corpus])
    after = {d: info["doc_hash"] for d, info in store.documents().items()}
    assert set(after) == set(before)
    assert sum(after[d] != before[d] for d in before) == 1  # one batch landed, one did not
    assert search("capital of France", k=1)[0].doc_id in {"paris.txt", "water.html"}
    assert search("boils at 100 degrees", k=3)
    # 3. re-running completes it
    monkeypatch.setattr(ingest_module, "embed_texts", real)
    report = ingest_paths([corpus])
    assert report.counts["changed"] == 1 and report.counts["failed"] == 0


def _two_readmes(root):
    a, b = root / "docs" / "a", root / "docs" / "b"
    a.mkdir(parents=True)
    b.mkdir()
    (a / "README.md").write_text("The Aurora X2 headphones weigh 254 grams.\n")
    (b / "README.md").write_text("The Fjell S1 speaker is rated IP67 against dust and water.\n")
    return a / "README.md", b / "README.md"


def test_files_of_one_name_in_two_folders_never_replace_each_other(home, tmp_path):
    a, b = _two_readmes(tmp_path)
    b_id = b.resolve().as_posix()
    assert ingest_paths([a]).counts["new"] == 1
    second = ingest_paths([b])
    assert (second.counts["new"], second.counts["changed"], second.counts["deleted"]) == (1, 0, 0)
    store = ChunkStore()
    assert set(store.documents()) == {"README.md", b_id}  # the first keeps its id
    assert search("Aurora headphones weight", k=1, mode="fts")[0].doc_id == "README.md"
    assert search("Fjell speaker IP67", k=1, mode="fts")[0].doc_id == b_id
    # The same files again, each alone or both at once, or their whole folder: each keeps
    # its id and nothing is written.
    for paths in ([a], [b], [b, a], [tmp_path / "docs"]):
        again = ingest_paths(paths)
        assert again.changes == [], paths
        assert again.counts["unchanged"] == (len(paths) if paths[0].is_file() else 2), paths
    assert set(store.documents()) == {"README.md", b_id}
    # A change of the second changes the second only.
    b.write_text("The Fjell S1 speaker is rated IP68.\n")
    changed = ingest_paths([b])
    assert [(c.doc_id, c.change) for c in changed.changes] == [(b_id, "changed")]
    assert "254 grams" in store.get_chunks({"doc_id": "README.md"})[0].text


def test_files_of_one_name_loaded_together_get_distinct_ids(home, tmp_path):
    a, b = _two_readmes(tmp_path)
    report = ingest_paths([b, a])
    assert report.counts["new"] == 2 and report.failures == []
    assert {r.doc_id for r in report.records} == {"README.md", a.resolve().as_posix()}


def test_a_failing_file_of_a_taken_name_is_recorded_under_its_own_id(home, tmp_path):
    a, b = _two_readmes(tmp_path)
    ingest_paths([a])
    b.write_bytes(b"\x00\x01 not text")
    report = ingest_paths([b])
    [failure] = report.failures
    assert (failure.doc_id, failure.rule) == (b.resolve().as_posix(), "binary")
    records = {r.doc_id: r for r in report.records}
    assert "README.md" not in records  # the first file's record is not touched
    assert set(ChunkStore().documents()) == {"README.md"}


def test_a_moved_file_keeps_its_id(home, tmp_path):
    a, _ = _two_readmes(tmp_path)
    ingest_paths([a])
    moved = tmp_path / "elsewhere" / "README.md"
    moved.parent.mkdir()
    a.rename(moved)  # its old place is gone: the same name names the same document
    report = ingest_paths([moved])
    assert report.counts["unchanged"] == 1 and report.changes == []
    assert set(ChunkStore().documents()) == {"README.md"}
