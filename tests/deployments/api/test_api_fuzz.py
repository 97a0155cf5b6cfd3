"""Property-based fuzzing of every route of the OpenAPI schema (schemathesis): whatever the
body, query or path, the API answers with no 5xx. A real server in a subprocess, on SQLite
and PostgreSQL, with an admin key (every scope) and no rate limit, so that each generated
request reaches its route.

``POST /v1/jobs`` has no Prefect deployment behind it here: its 503 ("cannot start
deployment") is the documented answer and is allowed there, and only there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from deployments.server import stop_process_group
from tests.conftest import fresh_database
from tests.deployments.api.conftest import ApiServer, start_api
from tests.experts.test_gate import FAST
from tests.experts.tiny_models import write_registry

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# Generated examples per operation (the fuzzing phase; the coverage phase adds the schema's
# boundary and wrong-type cases): fewer where each valid request runs a flow.
FUZZING = {
    "generation": {"max-examples": 25},
    "operations": [
        {"include-name": "POST /v1/documents", "generation": {"max-examples": 4}},
        {"include-name": "POST /v1/jobs", "generation": {"max-examples": 4}},
        {"include-name": "POST /v1/verify", "generation": {"max-examples": 12}},
    ],
}
NO_RATE_LIMIT = {"VERDICTFLOW_API__RATE_PER_S": "0"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """An API of its own (the fuzzer makes runs, documents and keys' audit entries)."""
    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    registry = write_registry(tmp / "registry.yaml", FAST)
    if request.param == "sqlite":
        server = start_api(
            tmp / "home", f"sqlite:///{tmp / 'verdictflow.db'}", registry, extra_env=NO_RATE_LIMIT
        )
        try:
            yield server
        finally:
            stop_process_group(server.process)
        return
    with fresh_database("verdictflow_fuzz") as url:
        server = start_api(tmp / "home", url, registry, extra_env=NO_RATE_LIMIT)
        try:
            yield server
        finally:
            stop_process_group(server.process)
            server.repository.dispose()


@pytest.fixture(scope="module")
def admin_headers(fuzz_server: ApiServer) -> dict[str, str]:
    """An admin key's header: every scope."""
    return {"Authorization": f"Bearer {fuzz_server.key('admin', name='fuzz')}"}


def _app_schema() -> dict[str, Any]:
    """The app's OpenAPI schema, built in this process (the same code the server runs;
    ``test_the_fuzzed_schema_is_the_one_the_server_serves`` holds them equal). Loaded at
    collection, so that each operation is a test of its own; schemathesis' lazy
    ``from_fixture`` does not run under pytest 9.2 (it sets ``Node._nodeid``)."""
    from deployments.api.app import create_app

    return create_app().openapi()


APP_SCHEMA = _app_schema()
schema = schemathesis.openapi.from_dict(APP_SCHEMA, config=SchemathesisConfig.from_dict(FUZZING))


def test_the_fuzzed_schema_is_the_one_the_server_serves(
    fuzz_server: ApiServer, admin_headers: dict[str, str]
) -> None:
    with fuzz_server.client() as client:
        served = client.get("/openapi.json", headers=admin_headers)
    assert served.status_code == 200, served.text
    assert served.json() == APP_SCHEMA
    assert len(APP_SCHEMA["paths"]) >= 9  # every route of the API, not an empty schema


@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_route_answers_5xx_to_any_generated_request(
    case: Any, admin_headers: dict[str, str], fuzz_server: ApiServer
) -> None:
    response = case.call(base_url=fuzz_server.url, headers=admin_headers, timeout=120)
    no_deployment = case.operation.path == "/v1/jobs" and case.method.upper() == "POST"
    if no_deployment and response.status_code == 503:  # nothing served here: documented
        assert "verify-dataset" in response.json()["detail"], response.text
        return
    try:
        case.validate_response(response, checks=[not_a_server_error], headers=admin_headers)
    except Exception:
        print(fuzz_server.log_tail())
        raise
