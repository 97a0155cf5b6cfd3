"""The corpus over HTTP: ``POST /v1/documents`` runs the ingest flow (its change events
included), ``GET /v1/search`` finds what it stored, and a verify without context uses it."""

from __future__ import annotations

import uuid

import pytest

from tests.deployments.api.conftest import ApiServer

DOCS = {
    "documents": [
        {
            "id": "aurora-x2",
            "text": "The Aurora X2 headphones weigh 254 grams and have 30 hours of battery.",
            "metadata": {"domain": "specs"},
        },
        {"id": "fjell-s1", "text": "The Fjell S1 speaker is rated IP67 and weighs 1.1 kg."},
    ]
}


@pytest.mark.slow  # the first ingest starts Prefect's temporary server inside the API
def test_documents_are_ingested_searched_and_used_as_evidence(api_server: ApiServer) -> None:
    if api_server.db_url.startswith("postgresql"):
        pytest.skip("ingest storage has its own PostgreSQL tests; one Prefect start is enough")
    key = api_server.key("ingest", "read", "verify")
    with api_server.client(key) as client:
        response = client.post("/v1/documents", json=DOCS)
        assert response.status_code == 200, response.text + api_server.log_tail()
        body = response.json()
        assert body["counts"]["new"] == 2 and body["counts"]["failed"] == 0
        assert {c["doc_id"] for c in body["changes"]} == {"aurora-x2", "fjell-s1"}
        again = client.post("/v1/documents", json=DOCS).json()
        assert again["counts"]["unchanged"] == 2 and again["counts"]["new"] == 0

        hits = client.get("/v1/search", params={"q": "Aurora X2 weight", "k": 2}).json()
        assert hits and hits[0]["doc_id"] == "aurora-x2"
        filtered = client.get(
            "/v1/search", params={"q": "weight", "filter": "doc_id=fjell-s1"}
        ).json()
        assert {h["doc_id"] for h in filtered} == {"fjell-s1"}
        assert client.get("/v1/search", params={"q": "x", "mode": "nope"}).status_code == 422

        verdict = client.post(
            "/v1/verify", json={"id": "corpus-1", "text": "The Aurora X2 weigh 254 grams."}
        ).json()
        evidence = verdict["verdicts"][0]["claims"][0]["evidence"]
        assert "aurora-x2" in {e["doc_id"] for e in evidence}
        assert {e["origin"] for e in evidence} == {"corpus"}

        runs = client.get("/v1/runs", params={"kind": "ingest"}).json()
        assert body["run_id"] in {r["run_id"] for r in runs}
        bad = client.post("/v1/documents", json={"documents": [{"id": "x"}]})
        assert bad.status_code == 422 and "text" in str(bad.json()["detail"])
        # Prefect now answers in the server: a job on a deployment nobody serves is 503, an
        # unknown job 404 (the jobs' happy path needs `verdictflow serve`: not tested here).
        job = client.post("/v1/jobs", json={"dataset": {"path": "/nowhere.jsonl"}})
        assert job.status_code == 503 and "verify-dataset" in job.json()["detail"]
        unknown = client.get(f"/v1/jobs/{uuid.uuid4()}")
        assert unknown.status_code == 404, unknown.text
        assert client.get("/v1/jobs/not-a-uuid").status_code == 422
    entries = api_server.store.audit_entries(key_id=key.split("_")[1], limit=10)
    assert "ingest" in {e["action"] for e in entries}
