"""Bad input over HTTP gets a clear 4xx naming the field, never a 500: invalid JSON, a body that
is not an object, wrong types, unknown ids, bodies over the size limit, bytes that are not
UTF-8. A real server in a subprocess, on SQLite and PostgreSQL.

(``test_api_verify`` covers ``items`` empty or a string, a list body and bad rows next to good
ones; ``test_api_auth`` the 413s of ``/v1/verify``.)
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.deployments.api.conftest import ApiServer

JSON = {"content-type": "application/json"}
ROUTES_WITH_BODIES = ("/v1/verify", "/v1/documents", "/v1/jobs")


def _post(client: httpx.Client, path: str, raw: bytes) -> httpx.Response:
    return client.post(path, content=raw, headers=JSON)


def _locs(response: httpx.Response) -> list[list[Any]]:
    """The ``loc`` of every validation error of a 422."""
    return [e["loc"] for e in response.json()["detail"]]


def test_invalid_json_is_422_naming_the_body_and_the_position(api_server: ApiServer) -> None:
    with api_server.client(api_server.key("verify", "ingest")) as client:
        cut = b'{"id": "x", "text": '
        for path in ROUTES_WITH_BODIES:
            response = _post(client, path, cut)
            assert response.status_code == 422, (path, response.text)
            [error] = response.json()["detail"]
            assert error["type"] == "json_invalid" and error["loc"] == ["body", len(cut)], error
            assert error["ctx"]["error"].startswith("Expecting value"), error


def test_a_body_that_is_not_an_object_is_422_naming_the_body(api_server: ApiServer) -> None:
    with api_server.client(api_server.key("verify", "ingest")) as client:
        for path in ROUTES_WITH_BODIES:
            for raw in (b'[{"id": "x"}]', b'"text"', b"42"):
                response = _post(client, path, raw)
                assert response.status_code == 422, (path, raw, response.text)
                assert _locs(response) == [["body"]], (path, raw, response.text)
        # JSON sent without saying so is not read as JSON: 415 (test_a_body_not_sent_as_json).
        response = client.post("/v1/verify", content=b'{"id": "x", "text": "A claim."}')
        assert response.status_code == 415


def test_wrong_types_are_4xx_naming_the_field(api_server: ApiServer) -> None:
    with api_server.client(api_server.key("verify", "ingest", "read")) as client:
        one = client.post("/v1/verify", json={"id": "wrong-text", "text": 42})
        assert one.status_code == 422, one.text
        [error] = one.json()["errors"]
        assert error["item_id"] == "wrong-text" and error["rule"] == "text"
        assert "'text'" in error["message"]
        assert one.json()["verdicts"] == []

        items = client.post("/v1/verify", json={"items": {"id": "x", "text": "A claim."}})
        assert items.status_code == 422 and "'items'" in items.json()["detail"]

        mixed = client.post(
            "/v1/verify",
            json={
                "items": [
                    {"id": "typed-ok", "text": "The Fjell S1 is rated IP67."},
                    {"id": "typed-meta", "text": "A claim.", "metadata": "not an object"},
                    {"id": "typed-question", "text": "A claim.", "question": ["a list"]},
                    7,
                ]
            },
        )
        assert mixed.status_code == 200, mixed.text
        errors = {e["item_id"]: e for e in mixed.json()["errors"]}
        assert "'metadata'" in errors["typed-meta"]["message"]
        assert "'question'" in errors["typed-question"]["message"]
        assert errors[None]["line"] == 4 and errors[None]["rule"] == "object"
        assert [v["id"] for v in mixed.json()["verdicts"]] == ["typed-ok"]

        documents = client.post("/v1/documents", json={"documents": [{"id": "d1", "text": 5}]})
        assert documents.status_code == 422
        assert _locs(documents) == [["body", "documents", 0, "text"]]
        not_list = client.post("/v1/documents", json={"documents": "d1"})
        assert not_list.status_code == 422 and _locs(not_list) == [["body", "documents"]]
        unknown_field = client.post("/v1/documents", json={"documents": [], "extra": 1})
        assert unknown_field.status_code == 422
        assert ["body", "extra"] in _locs(unknown_field)

        job = client.post("/v1/jobs", json={"dataset": "/data/x.jsonl"})
        assert job.status_code == 422 and _locs(job) == [["body", "dataset"]]
        job = client.post("/v1/jobs", json={"dataset": {}, "priority": 1})
        assert job.status_code == 422 and _locs(job) == [["body", "priority"]]

    with api_server.client(api_server.key("read")) as client:
        for path, field in (
            ("/v1/runs?limit=many", "limit"),
            ("/v1/runs?limit=0", "limit"),
            ("/v1/search?q=speaker&k=zero", "k"),
            ("/v1/search?q=", "q"),
        ):
            response = client.get(path)
            assert response.status_code == 422, (path, response.text)
            assert _locs(response) == [["query", field]], (path, response.text)


def test_unknown_ids_are_404_naming_the_id(api_server: ApiServer) -> None:
    unknown = f"run-{uuid.uuid4().hex[:16]}"
    with api_server.client(api_server.key("read")) as client:
        response = client.get(f"/v1/runs/{unknown}")
        assert response.status_code == 404 and unknown in response.json()["detail"]
        response = client.get(f"/v1/items/item-{unknown}/verdicts")
        assert response.status_code == 404 and f"item-{unknown}" in response.json()["detail"]
        # An id no database can hold (PostgreSQL refuses NUL in a query): the same 404.
        for path in ("/v1/runs/run%00x", "/v1/items/item%00x/verdicts", "/v1/runs/%FF%FE"):
            response = client.get(path)
            assert response.status_code == 404, (path, response.text)
        # A job id that is not a flow-run id: named, before Prefect is asked.
        response = client.get("/v1/jobs/not-a-uuid")
        assert response.status_code == 422 and "'not-a-uuid'" in response.json()["detail"]


def test_bodies_over_the_size_limit_are_413_on_every_route(api_server: ApiServer) -> None:
    huge = b'{"documents": [{"id": "d", "text": "' + b"x" * 70_000 + b'"}]}'
    with api_server.client(api_server.key("verify", "ingest")) as client:
        for path in ROUTES_WITH_BODIES:
            response = _post(client, path, huge)
            assert response.status_code == 413, (path, response.text)
            assert "api.max_body_bytes" in response.json()["detail"]
            assert "65,536" in response.json()["detail"]


def test_bytes_that_are_not_utf8_are_400_naming_the_body_and_the_byte(
    api_server: ApiServer,
) -> None:
    latin1 = '{"id": "caf", "text": "Un café coûte 2 euros."}'.encode("latin-1")
    where = latin1.index(b"\xe9")
    with api_server.client(api_server.key("verify", "ingest")) as client:
        for path in ROUTES_WITH_BODIES:
            response = _post(client, path, latin1)
            assert response.status_code == 400, (path, response.text)
            detail = response.json()["detail"]
            assert "request body is not valid UTF-8" in detail, detail
            assert f"byte 0xe9 at position {where}" in detail, detail


def test_json_nested_too_deeply_is_400_naming_the_body(api_server: ApiServer) -> None:
    deep = b'{"items": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    with api_server.client(api_server.key("verify")) as client:
        response = _post(client, "/v1/verify", deep)
        assert response.status_code == 400, response.text
        assert "nested too deeply" in response.json()["detail"]


def test_a_lone_surrogate_in_text_is_a_row_error_naming_the_field(api_server: ApiServer) -> None:
    raw = (
        b'{"items": [{"id": "sur-ok", "text": "The Fjell S1 is rated IP67."},'
        b' {"id": "sur-bad", "text": "A lone \\udc00 surrogate."}]}'
    )
    with api_server.client(api_server.key("verify")) as client:
        response = _post(client, "/v1/verify", raw)
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["item_id"] == "sur-bad" and "'text'" in error["message"]
    assert error["rule"] == "encoding"
    assert [v["id"] for v in response.json()["verdicts"]] == ["sur-ok"]


def test_a_body_not_sent_as_json_is_415_saying_how_to_send_it(api_server: ApiServer) -> None:
    raw = b'{"id": "ct", "text": "The Fjell S1 is rated IP67."}'
    with api_server.client(api_server.key("verify", "ingest")) as client:
        for path in ROUTES_WITH_BODIES:
            for headers, said in (
                ({}, "no Content-Type"),
                ({"content-type": "text/plain"}, "'text/plain'"),
                ({"content-type": "application/x-www-form-urlencoded"}, "'application/x-www"),
            ):
                response = client.post(path, content=raw, headers=headers)
                assert response.status_code == 415, (path, headers, response.text)
                detail = response.json()["detail"]
                assert "must be JSON" in detail and "Content-Type: application/json" in detail
                assert said in detail, detail
        # JSON with a charset, or a +json type, is JSON
        response = client.post(
            "/v1/verify", content=raw, headers={"content-type": "application/json; charset=utf-8"}
        )
        assert response.status_code == 200, response.text
    # No key: 401 comes first, whatever the body.
    response = httpx.post(f"{api_server.url}/v1/verify", content=raw)
    assert response.status_code == 401


def test_unknown_fields_are_422_naming_them(api_server: ApiServer) -> None:
    with api_server.client(api_server.key("verify")) as client:
        one = client.post(
            "/v1/verify", json={"id": "typo", "text": "The Fjell S1 is rated IP67.", "contxt": "x"}
        )
        assert one.status_code == 422, one.text
        [error] = one.json()["errors"]
        assert (error["line"], error["item_id"], error["rule"]) == (1, "typo", "unknown_field")
        assert "'contxt'" in error["message"] and "'metadata'" in error["message"]

        mixed = client.post(
            "/v1/verify",
            json={
                "items": [
                    {"id": "known", "text": "The Fjell S1 is rated IP67.", "label": "supported"},
                    {"id": "extra", "text": "The Fjell S1 is rated IP67.", "source": "web"},
                ]
            },
        )
        assert mixed.status_code == 200, mixed.text
        assert [v["id"] for v in mixed.json()["verdicts"]] == ["known"]
        assert [(e["item_id"], e["rule"]) for e in mixed.json()["errors"]] == [
            ("extra", "unknown_field")
        ]

        top = client.post(
            "/v1/verify",
            json={"items": [{"id": "t", "text": "The Fjell S1 is rated IP67."}], "qualty": True},
        )
        assert top.status_code == 422, top.text
        [error] = top.json()["detail"]
        assert error["loc"] == ["body", "qualty"] and "'qualty'" in error["msg"]


def test_an_item_over_the_claim_limit_is_422_naming_the_limit(api_server: ApiServer) -> None:
    text = " ".join(f"The Fjell S1 speaker weighs {n} grams." for n in range(201))
    with api_server.client(api_server.key("verify")) as client:
        response = client.post("/v1/verify", json={"id": "long", "text": text})
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["item_id"], error["rule"]) == ("long", "max_claims")
    assert "more than 200 claims" in error["message"]
    assert "verify.max_claims_per_item" in error["message"]
