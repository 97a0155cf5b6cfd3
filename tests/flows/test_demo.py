"""The flow on the shipped demo set: ingest the corpus, verify the items against it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verdictflow.config import reset_settings

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
# Items whose only change is a number written in digits: the numbers expert must catch each.
CHANGED_NUMBERS = {
    "aurora-battery-wrong",
    "aurora-weight-wrong",
    "aurora-price-wrong",
    "fjell-battery-wrong",
    "polar-launch-wrong",
    "company-countries-wrong",
    "returns-window-wrong",
    "shipping-fee-wrong",
    "plus-excess-wrong",
    "multi-claim",
}


@pytest.mark.slow
def test_demo_corpus_and_items(prefect_harness, home, monkeypatch):
    from flows.ingest import ingest_documents
    from flows.verify import verify_items
    from storage.repository import current_repository

    monkeypatch.setenv("VERDICTFLOW_DASK__USE_DASK", "false")
    reset_settings()
    ingest_documents([str(DEMO / "corpus")])
    result = verify_items(path=str(DEMO / "items.jsonl"))

    labels = {
        row["id"]: row["label"]
        for row in map(json.loads, (DEMO / "items.jsonl").read_text().splitlines())
    }
    got = {v.item_id: v.label.value for v in result.verdicts}
    assert set(got) == set(labels) and not result.errors
    assert {i for i in CHANGED_NUMBERS if got[i] != "contradicted"} == set()
    # Corpus evidence, not the item's own text, decided the claims without context.
    claim = next(v for v in result.verdicts if v.item_id == "fjell-ip").claims[0]
    assert claim.evidence and claim.evidence[0].origin == "corpus"
    assert claim.evidence[0].doc_id.startswith("fjell-speaker")
    agreement = sum(got[i] == labels[i] for i in labels) / len(labels)
    majority = max(list(labels.values()).count(x) for x in set(labels.values())) / len(labels)
    assert agreement >= majority + 0.1, (agreement, majority)
    assert current_repository().get_run(result.run_id)["counts"]["items"] == len(labels)
