"""The train-domain-expert flow on a real Prefect API, and ingest telling when a domain is stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prefect.events.clients import AssertingEventsClient
from prefect.testing.fixtures import asserting_events_worker  # noqa: F401

from tests.experts.domain_corpus import bank_home_setup


@pytest.fixture
def bank_home(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    return bank_home_setup(home, tmp_path, monkeypatch)


def stale_events(worker) -> list:
    worker.wait_until_empty()
    events = [e for e in AssertingEventsClient.last.events if e.event == "verdictflow.domain.stale"]
    AssertingEventsClient.last.events.clear()
    return events


def test_the_flow_trains_ingest_finds_it_stale_and_a_rerun_by_name_retrains(
    prefect_harness,
    bank_home: dict,
    asserting_events_worker,  # noqa: F811
) -> None:
    from flows.ingest import ingest_documents
    from flows.train_domain import DomainCorpus, train_domain_expert

    corpus = bank_home["corpus"]
    first = train_domain_expert("banking", DomainCorpus(paths=[str(corpus)]), minutes=2)
    assert first["name"] == "banking" and first["steps"] > 0
    profile = Path(first["path"]) / "domain.json"
    assert json.loads(profile.read_text())["source"] == {"paths": [str(corpus)]}

    ingest_documents([str(corpus)])
    assert stale_events(asserting_events_worker) == []  # the corpus as it was trained on
    for name in ("cards.md", "loans.md", "branches.md"):
        path = corpus / name
        path.write_text(path.read_text().replace("EUR", "NOK").replace("Bergen", "Oslo"))
    ingest_documents([str(corpus)])
    [event] = stale_events(asserting_events_worker)
    assert event.resource.id == "verdictflow.domain.banking"
    assert event.payload["changed_share"] > 0.2
    assert event.payload["corpus_sha256"] == first["corpus_sha256"]

    # What the (disabled by default) trigger does: the flow with the expert's name only.
    again = train_domain_expert("banking")
    assert again["corpus_sha256"] != first["corpus_sha256"]  # it read the changed files
    ingest_documents([str(corpus)])
    assert stale_events(asserting_events_worker) == []


def test_the_cli_names_a_bad_corpus_and_exits_1(bank_home: dict, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from deployments.cli_experts import register

    app = typer.Typer()
    register(app)
    one = tmp_path / "one"
    one.mkdir()
    (one / "only.md").write_text("A single document is not enough to split by document.")
    result = CliRunner().invoke(app, ["experts", "train-domain", "tiny", "--corpus", str(one)])
    assert result.exit_code == 1
    assert "tiny: corpus: rule min_documents: 1 document(s)" in result.output
    result = CliRunner().invoke(app, ["experts", "train-domain", "tiny"])
    assert result.exit_code == 2 and "--corpus" in result.output
