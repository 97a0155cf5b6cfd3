"""Micro-batching and the quality flag of ``POST /v1/verify`` on a real server: concurrent
requests share forward passes yet each gets its own verdicts; ``quality=true`` runs and stores
the batch checks; a lone request does not wait for company."""

from __future__ import annotations

import re
import threading
import time

from tests.deployments.api.conftest import ApiServer

CONTEXT = (
    "The Polar Radio 7 is a radio designed in Lund. It weighs 410 grams and plays for up to "
    "30 hours on a single charge."
)


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_concurrent_requests_share_forward_passes_and_get_their_own_verdicts(
    api_server: ApiServer,
) -> None:
    key = api_server.key("verify", "read")
    n = 6
    claims = [f"The Polar Radio 7 weighs {410 + 100 * i} grams." for i in range(n)]
    start = threading.Barrier(n)
    answers: dict[int, dict] = {}

    def post(i: int) -> None:
        with api_server.client(key) as client:
            start.wait()
            item = {"id": f"batch-{api_server.db_url[-6:]}-{i}", "text": claims[i]}
            response = client.post("/v1/verify", json={**item, "context": CONTEXT})
            assert response.status_code == 200, response.text
            answers[i] = response.json()

    with api_server.client(key) as client:
        before = client.get("/metrics").text
    threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == n
    for i, body in answers.items():
        (verdict,) = body["verdicts"]
        assert verdict["claims"][0]["text"] == claims[i]  # its own claim came back
    with api_server.client(key) as client:
        after = client.get("/metrics").text
    passes = _metric(after, "verdictflow_api_forward_requests_count") - _metric(
        before, "verdictflow_api_forward_requests_count"
    )
    requests = _metric(after, "verdictflow_api_forward_requests_sum") - _metric(
        before, "verdictflow_api_forward_requests_sum"
    )
    # Every request's pairs went through some pass, and passes were shared.
    assert requests >= n and passes < requests


def test_a_lone_request_does_not_wait_for_company(api_server: ApiServer) -> None:
    key = api_server.key("verify")
    item = {"id": f"lone-{api_server.db_url[-6:]}", "text": "The radio weighs 410 grams."}
    with api_server.client(key) as client:
        started = time.monotonic()
        response = client.post("/v1/verify", json={**item, "context": CONTEXT})
        took = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert took < 5  # the server's batch wait is 5 s: it was not spent


def test_quality_true_runs_and_stores_the_batch_checks(api_server: ApiServer) -> None:
    key = api_server.key("verify", "read")
    tag = api_server.db_url[-6:]
    items = [
        {"id": f"q-{tag}-1", "text": "The Polar Radio 7 weighs 410 grams.", "context": CONTEXT},
        {"id": f"q-{tag}-2", "text": "The Polar Radio 7 was designed in Lund.", "context": CONTEXT},
    ]
    with api_server.client(key) as client:
        plain = client.post("/v1/verify", json={"items": items[:1]})
        checked = client.post("/v1/verify", params={"quality": "true"}, json={"items": items})
    assert plain.status_code == 200 and checked.status_code == 200, checked.text
    repo = api_server.repository
    assert repo.load_quality_results(plain.json()["run_id"]) == []
    results = repo.load_quality_results(checked.json()["run_id"])
    assert results, "quality=true stored no batch check"
    assert checked.json()["status"] in {"completed", "quality_failed"}
