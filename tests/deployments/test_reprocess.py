"""Reprocessing after a document changes: real ingest, verify-dataset and reprocess flows."""

from __future__ import annotations

import pytest

from storage.lineage import doc_ids_from
from tests.deployments import corpus
from verdictflow.config import reset_settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_document_ids_come_from_ids_or_event_resources():
    assert doc_ids_from("verdictflow.document.fjell.txt") == ["fjell.txt"]
    assert doc_ids_from("a.txt, verdictflow.document.b.txt,a.txt") == ["a.txt", "b.txt"]
    assert doc_ids_from(["x", "verdictflow.document.y"]) == ["x", "y"]
    with pytest.raises(ValueError, match="rule: document"):
        doc_ids_from(" , ")


def test_reprocess_redoes_affected_items_beside_the_old_verdicts(
    prefect_harness, home, tmp_path, monkeypatch
):
    monkeypatch.setenv("VERDICTFLOW_DASK__USE_DASK", "false")
    monkeypatch.setenv("VERDICTFLOW_RETRIEVAL__TOP_K", "1")
    reset_settings()
    from flows.ingest import ingest_documents
    from flows.reprocess import reprocess_on_document_change as reprocess
    from flows.verify_dataset import DatasetSource, verify_dataset
    from storage.repository import current_repository

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in corpus.DOCS.items():
        (docs / f"{name}.txt").write_text(text, encoding="utf-8")
    ingest_documents([str(docs)])
    records = corpus.write_jsonl(tmp_path / "records.jsonl", [*corpus.ITEMS, {"id": "no-text"}])
    original = verify_dataset(DatasetSource(path=str(records)))
    repo = current_repository()
    assert [(e.line, e.item_id, e.rule) for e in original.errors] == [(3, "no-text", "text")]
    assert repo.get_run(original.run_id)["counts"]["input_errors"] == 1  # stored with the run

    # Nothing cites an unknown document: no run at all.
    assert reprocess("verdictflow.document.nothing.txt").runs == []

    (docs / "fjell.txt").write_text(corpus.FJELL_CHANGED, encoding="utf-8")
    ingest_documents([str(docs)])
    first = reprocess("verdictflow.document.fjell.txt")
    [run] = first.runs
    assert run.parent_run_id == original.run_id and run.items == ["speaker"]
    [change] = run.changes
    speaker = next(v for v in original.verdicts if v.item_id == "speaker")
    assert change["item"] == "speaker" and change["before"] == speaker.label.value
    assert change["p_supported_before"] == round(speaker.p_supported, 3)
    assert change["p_supported_after"] < change["p_supported_before"]  # 20 hours: not backed
    assert repo.get_run(run.run_id)["parent_run_id"] == original.run_id
    assert len(repo.load_item_verdicts(original.run_id)) == 2  # the old verdicts stay

    # The same event again: the same run, nothing written twice.
    before = repo.table_counts()
    again = reprocess("fjell.txt")
    assert [r.run_id for r in again.runs] == [run.run_id]
    assert repo.table_counts() == before

    # The document changes back: a new run, compared with the newest verdict, not the first.
    (docs / "fjell.txt").write_text(corpus.DOCS["fjell"], encoding="utf-8")
    ingest_documents([str(docs)])
    [back] = reprocess("fjell.txt").runs
    assert back.run_id != run.run_id and back.parent_run_id == original.run_id
    assert back.changes[0]["p_supported_before"] == change["p_supported_after"]
    assert (
        back.changes[0]["after"] == speaker.label.value
    )  # the original text, the original verdict
    assert back.changes[0]["p_supported_after"] == round(speaker.p_supported, 3)

    # A new document that the kettle's search now finds first: the kettle is redone too.
    (docs / "kettle-spec.txt").write_text("The Aurora K2 kettle holds 1.7 litres.", "utf-8")
    ingest_documents([str(docs)])
    assert reprocess("kettle-spec.txt", search_recent_runs=0).runs == []  # nothing cites it yet
    [found] = reprocess("kettle-spec.txt").runs
    assert found.items == ["kettle"] and found.parent_run_id == original.run_id
    kettle = repo.load_item_verdicts(found.run_id)[0]
    assert {e.doc_id for c in kettle.claims for e in c.evidence} == {"kettle-spec.txt"}
