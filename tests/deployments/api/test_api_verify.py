"""``POST /v1/verify`` end to end over HTTP: verdicts in the CLI's rows, stored as the CLI's
are and read back through ``/v1/runs/{id}``; bad rows named by position, id and rule; the
audit log and the metrics. A real server in a subprocess, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.deployments.api.conftest import ApiServer
from verdictflow.verdicts import output_row

FJELL = (
    "The Fjell S1 is a portable Bluetooth speaker rated IP67. It weighs 1.1 kilograms and plays "
    "for up to 20 hours on a charge."
)
GOOD = [
    {
        "id": "api-true",
        "text": "The Fjell S1 plays for up to 20 hours on a charge.",
        "context": FJELL,
    },
    {
        "id": "api-two",
        "text": "The Fjell S1 is rated IP67. It weighs 2.5 kilograms.",
        "context": FJELL,
    },
    {"id": "api-nocontext", "text": "The Fjell S1 speaker is rated IP67."},
]
BAD = [
    {"text": "no id at all"},
    {"id": "api-empty", "text": "   "},
    {"id": "api-true", "text": "A duplicate id."},
    {"id": "api-types", "text": "Fine text.", "context": 42},
]


def test_a_verdict_is_stored_and_read_back_as_the_cli_writes_it(api_server: ApiServer) -> None:
    key = api_server.key("verify", "read")
    with api_server.client(key) as client:
        response = client.post("/v1/verify", json={"items": [*GOOD, *BAD]})
        assert response.status_code == 200, response.text
        body = response.json()
        run_id = body["run_id"]
        assert [v["id"] for v in body["verdicts"]] == [g["id"] for g in GOOD]
        assert len(body["verdicts"][1]["claims"]) == 2
        # The changed value is highlighted: a contradicted span over "2.5" (the CLI's rows).
        weight = body["verdicts"][1]["claims"][1]
        assert {(s["text"], s["kind"]) for s in weight["spans"]} == {("2.5", "contradicted")}
        for row in body["verdicts"]:
            assert row["run_id"] == run_id
            assert row["verdict"] in {"supported", "contradicted", "unsupported", "uncertain"}
        # Each bad row: its position in `items`, its id where it has one, the rule it broke.
        errors = {(e["line"], e["item_id"], e["rule"]) for e in body["errors"]}
        assert errors == {
            (4, None, "id"),
            (5, "api-empty", "text"),
            (6, "api-true", "duplicate_id"),
            (7, "api-types", "types"),
        }
        assert all(e["message"] for e in body["errors"])

        stored = client.get(f"/v1/runs/{run_id}").json()
        assert stored["status"] == "completed" and stored["kind"] == "verify"
        assert stored["verdicts"] == body["verdicts"]
        assert stored["errors"] == body["errors"]
        history = client.get("/v1/items/api-two/verdicts").json()
        assert run_id in {h["run_id"] for h in history}
        assert client.get("/v1/runs?limit=5").json()[0]["run_id"] == run_id

        # What the database holds, read in this process, is what the API answered.
        repo = api_server.repository
        held = [output_row(v, run_id) for v in repo.load_item_verdicts(run_id)]
        assert held == body["verdicts"]
        assert [e.model_dump() for e in repo.load_input_errors(run_id)] == body["errors"]

        # The same request again is the same run and writes nothing twice.
        before = repo.table_counts()
        again = client.post("/v1/verify", json={"items": [*GOOD, *BAD]}).json()
        assert again["run_id"] == run_id and again["verdicts"] == body["verdicts"]
        after = repo.table_counts()
        assert {t: n for t, n in after.items() if t != "audit_log"} == {
            t: n for t, n in before.items() if t != "audit_log"
        }

    entries = api_server.store.audit_entries(key_id=key.split("_")[1], limit=5)
    assert entries[0]["action"] == "verify" and entries[0]["target"] == run_id
    assert entries[0]["details"]["items"] == [g["id"] for g in GOOD]


def test_one_item_without_the_batch_wrapper(api_server: ApiServer) -> None:
    with api_server.client(api_server.key("verify")) as client:
        response = client.post("/v1/verify", json=GOOD[0])
        assert response.status_code == 200, response.text
        (row,) = response.json()["verdicts"]
        assert row["id"] == "api-true" and row["claims"][0]["evidence"]
        assert row["claims"][0]["evidence"][0]["origin"] == "context"


def test_nothing_checkable_is_422_with_every_row_named(api_server: ApiServer) -> None:
    with api_server.client(api_server.key("verify")) as client:
        response = client.post("/v1/verify", json={"items": BAD[:2]})
        assert response.status_code == 422
        assert [e["rule"] for e in response.json()["errors"]] == ["id", "text"]
        for body, field in (({"items": []}, "items"), ({"items": "x"}, "items")):
            response = client.post("/v1/verify", json=body)
            assert response.status_code == 422 and field in response.json()["detail"]
        response = client.post("/v1/verify", json=[GOOD[0]])  # a list, not an object
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body"]
        response = client.post(
            "/v1/verify", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert response.status_code == 422


def test_unknown_ids_are_404(api_server: ApiServer) -> None:
    with api_server.client(api_server.key("read")) as client:
        assert client.get("/v1/runs/run-nope").status_code == 404
        assert "no verdict" in client.get("/v1/items/nobody/verdicts").json()["detail"]
        assert client.get("/v1/runs?kind=party").status_code == 422


def test_ready_and_metrics(api_server: ApiServer) -> None:
    with api_server.client(api_server.key("verify", "read")) as client:
        client.post("/v1/verify", json=GOOD[0])
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        assert ready.json()["load_seconds"]["experts"] > 0
        text = client.get("/metrics").text
    assert (
        'verdictflow_api_request_seconds_count{method="POST",route="/v1/verify",status="200"}'
        in text
    )
    assert "verdictflow_api_verdicts_total{label=" in text
    assert "verdictflow_api_batch_items_count" in text
    assert 'verdictflow_api_model_load_seconds{part="experts"}' in text
    assert "# TYPE verdictflow_api_denied_total counter" in text
