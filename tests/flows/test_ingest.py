"""The ingest flow on a real Prefect API: records, events, idempotence, deletes, failures."""

from __future__ import annotations

import pytest
from prefect.events.clients import AssertingEventsClient
from prefect.testing.fixtures import asserting_events_worker  # noqa: F401

from flows.ingest import ingest_documents
from retrieval.search import search
from retrieval.store import ChunkStore
from storage.repository import Repository
from tests.retrieval.files import write_corpus
from verdictflow.config import get_settings


def emitted(worker) -> list:
    worker.wait_until_empty()
    events = [e for e in AssertingEventsClient.last.events if e.event.startswith("verdictflow.")]
    AssertingEventsClient.last.events.clear()
    return events


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "corpus")


def test_ingest_flow_records_documents_and_emits_events(
    prefect_harness,
    home,
    corpus,
    asserting_events_worker,  # noqa: F811
):
    result = ingest_documents([str(corpus)])
    assert result["counts"]["new"] == 8 and result["counts"]["failed"] == 0
    repo = Repository(get_settings().db_url)
    docs = repo.get_documents()
    assert len(docs) == 8 and all(d.status == "active" and d.n_chunks >= 1 for d in docs.values())
    run = repo.get_run(result["run_id"])
    assert run["kind"] == "ingest" and run["status"] == "completed"
    assert run["counts"]["new"] == 8
    events = emitted(asserting_events_worker)
    assert len(events) == 8
    assert {e.resource.id for e in events} == {f"verdictflow.document.{d}" for d in docs}
    assert all(e.event == "verdictflow.document.changed" for e in events)
    assert {e.payload["change"] for e in events} == {"new"}

    # same input again: nothing written, no event
    version = ChunkStore().version()
    again = ingest_documents([str(corpus)])
    assert again["counts"]["unchanged"] == 8 and again["counts"]["events"] == 0
    assert ChunkStore().version() == version
    assert emitted(asserting_events_worker) == []

    # one change, one delete, one failure
    (corpus / "paris.txt").write_text("Paris is the capital of France and has 20 arrondissements.")
    (corpus / "rivers.csv").unlink()
    (corpus / "water.html").write_bytes(b"\x00\x01 not html any more")
    third = ingest_documents([str(corpus)])
    assert {k: third["counts"][k] for k in ("changed", "deleted", "failed", "unchanged")} == {
        "changed": 1,
        "deleted": 1,
        "failed": 1,
        "unchanged": 5,
    }
    events = {e.resource.id: e.payload for e in emitted(asserting_events_worker)}
    assert set(events) == {"verdictflow.document.paris.txt", "verdictflow.document.c-nile"}
    assert events["verdictflow.document.c-nile"]["change"] == "deleted"
    assert (
        events["verdictflow.document.paris.txt"]["previous_hash"] == docs["paris.txt"].content_hash
    )
    docs = repo.get_documents()
    assert docs["c-nile"].status == "deleted"
    assert docs["water.html"].status == "failed" and docs["water.html"].error.startswith("binary")
    assert (
        docs["paris.txt"].content_hash != events["verdictflow.document.paris.txt"]["previous_hash"]
    )
    # the failed document's previous version is still searchable
    assert search("boils at 100 degrees Celsius", k=1)[0].doc_id == "water.html"


def test_store_written_but_never_recorded_is_caught_up(
    prefect_harness,
    home,
    corpus,
    asserting_events_worker,  # noqa: F811
):
    from retrieval.ingest import ingest_paths

    ingest_paths([corpus])  # the chunks landed, storage and events did not (a crash)
    result = ingest_documents([str(corpus)])
    assert result["counts"]["unchanged"] == 8 and result["counts"]["events"] == 8
    assert len(emitted(asserting_events_worker)) == 8
    docs = Repository(get_settings().db_url).get_documents()
    assert len(docs) == 8 and all(d.status == "active" for d in docs.values())
