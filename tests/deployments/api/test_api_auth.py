"""Closed to strangers: every route without a key (401), with a key outside its scopes (403),
with a revoked key (401); the rate limit per key (429 + Retry-After); the size limits (413).
A real server in a subprocess, on SQLite and PostgreSQL, over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import httpx

from tests.deployments.api.conftest import ApiServer, server_env
from tests.deployments.servers import REPO

# Every guarded route: method, path, the scope it needs, a body.
ROUTES = [
    ("POST", "/v1/verify", "verify", {"id": "x", "text": "The sky is blue."}),
    ("POST", "/v1/jobs", "verify", {"dataset": {"path": "/nowhere.jsonl"}}),
    ("GET", f"/v1/jobs/{uuid.uuid4()}", "read", None),
    ("POST", "/v1/documents", "ingest", {"documents": [{"id": "d1", "text": "A text."}]}),
    ("GET", "/v1/search?q=speaker", "read", None),
    ("GET", "/v1/runs", "read", None),
    ("GET", "/v1/runs/run-unknown", "read", None),
    ("GET", "/v1/items/x/verdicts", "read", None),
    ("GET", "/readyz", "read", None),
    ("GET", "/metrics", "read", None),
    ("GET", "/openapi.json", "read", None),
    ("GET", "/docs", "read", None),
]
ALL_BUT = {
    "read": ("verify", "ingest"),
    "verify": ("read", "ingest"),
    "ingest": ("read", "verify"),
}


def _call(client: httpx.Client, method: str, path: str, body: dict | None) -> httpx.Response:
    return client.request(method, path, json=body) if body is not None else client.get(path)


def test_only_healthz_is_open_and_every_route_checks_key_and_scope(api_server: ApiServer) -> None:
    with api_server.client() as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        for method, path, _scope, body in ROUTES:
            response = _call(anonymous, method, path, body)
            assert response.status_code == 401, (path, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
    with api_server.client("vf_0123456789ab_not-a-real-key") as forged:
        for method, path, _scope, body in ROUTES:
            assert _call(forged, method, path, body).status_code == 401, path
    wrong = {scope: api_server.key(*others) for scope, others in ALL_BUT.items()}
    for method, path, scope, body in ROUTES:
        with api_server.client(wrong[scope]) as client:
            response = _call(client, method, path, body)
            assert response.status_code == 403, (path, response.text)
            assert repr(scope) in response.json()["detail"]


def test_the_route_list_above_covers_every_route_of_the_app(api_server: ApiServer) -> None:
    with api_server.client(api_server.key("read")) as client:
        schema = client.get("/openapi.json").json()
    served = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    covered = {(m, p.split("?")[0]) for m, p, _s, _b in ROUTES}
    covered |= {("GET", "/v1/jobs/{flow_run_id}"), ("GET", "/v1/runs/{run_id}")}
    covered |= {("GET", "/v1/items/{item_id}/verdicts"), ("GET", "/healthz")}
    assert served <= covered, served - covered


def test_keys_made_and_revoked_on_the_command_line(api_server: ApiServer) -> None:
    env = server_env(api_server.home, api_server.db_url, REPO / "experts" / "registry.yaml")

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "deployments.cli", "api-key", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    made = cli("create", "ops", "--scope", "read", "--scope", "verify", "--json")
    assert made.returncode == 0, made.stderr
    record = json.loads(made.stdout)
    assert record["scopes"] == ["read", "verify"] and record["key"].startswith("vf_")
    stored = api_server.store.get_key(record["key_id"])
    assert stored is not None and stored.active
    # Only the hash is stored: the key itself is nowhere in the table.
    assert record["key"] not in json.dumps(
        [k.model_dump(mode="json") for k in api_server.store.list_keys()]
    )
    with api_server.client(record["key"]) as client:
        assert client.get("/v1/runs").status_code == 200
        listed = json.loads(cli("list", "--json").stdout)
        assert record["key_id"] in {k["key_id"] for k in listed}
        revoked = cli("revoke", record["key_id"])
        assert revoked.returncode == 0, revoked.stderr
        assert client.get("/v1/runs").status_code == 401
        for method, path, _scope, body in ROUTES:
            assert _call(client, method, path, body).status_code == 401, path
    actions = [e["action"] for e in api_server.store.audit_entries(key_id=None, limit=20)]
    assert "api-key.create" in actions and "api-key.revoke" in actions


def test_a_key_over_its_rate_gets_429_with_retry_after(api_server: ApiServer) -> None:
    key = api_server.key("read")
    with api_server.client(key) as client:
        codes = [client.get("/v1/runs?limit=1").status_code for _ in range(12)]
        assert codes == [200] * 12  # the burst (api.rate_burst)
        refused = client.get("/v1/runs?limit=1")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert "rate limit" in refused.json()["detail"]
    # Another key has a bucket of its own.
    with api_server.client(api_server.key("read")) as other:
        assert other.get("/v1/runs?limit=1").status_code == 200


def test_bodies_and_batches_over_the_limits_get_413(api_server: ApiServer) -> None:
    with api_server.client(api_server.key("verify", "ingest")) as client:
        big = {"id": "big", "text": "x" * 70_000}
        response = client.post("/v1/verify", json=big)
        assert response.status_code == 413
        assert "api.max_body_bytes" in response.json()["detail"]

        def chunks():  # no Content-Length: counted as it is read
            for _ in range(20):
                yield b"x" * 8192

        response = client.post(
            "/v1/verify", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        items = [{"id": f"i{n}", "text": "The sky is blue."} for n in range(9)]
        response = client.post("/v1/verify", json={"items": items})
        assert response.status_code == 413
        assert "POST /v1/jobs" in response.json()["detail"]
        # Unauthenticated and oversized: refused before anything reads it.
        assert httpx.post(f"{api_server.url}/v1/verify", json=big).status_code == 413


def test_a_key_in_x_api_key_is_checked_like_a_bearer_token(api_server: ApiServer) -> None:
    key = api_server.key("read")
    record = api_server.store.check_key(key)
    assert record is not None
    with api_server.client() as client:
        assert client.get("/v1/runs", headers={"X-API-Key": key}).status_code == 200
        # Another scheme than Bearer carries no key.
        basic = client.get("/v1/runs", headers={"Authorization": f"Basic {key}"})
        assert basic.status_code == 401 and "API key is required" in basic.json()["detail"]
        # A key outside its scopes and a revoked key are refused in this header too.
        refused = client.post("/v1/verify", headers={"X-API-Key": key}, json=ROUTES[0][3])
        assert refused.status_code == 403 and "'verify'" in refused.json()["detail"]
        assert api_server.store.revoke_key(record.key_id)
        revoked = client.get("/v1/runs", headers={"X-API-Key": key})
        assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
