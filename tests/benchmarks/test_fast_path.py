"""The single-request fast path of verify_items: same verdicts and storage, no Prefect runs."""

from __future__ import annotations

import pytest

from verdictflow.config import reset_settings

FJELL = (
    "The Fjell S1 is a portable Bluetooth speaker rated IP67. It weighs 1.1 kilograms and plays "
    "for up to 20 hours on a charge. It charges over USB-C in about 3 hours."
)


def _item(i: int) -> dict:
    return {"id": f"fast-{i}", "text": f"The Fjell S1 weighs {i} kilograms.", "context": FJELL}


@pytest.fixture
def local_home(home, monkeypatch):
    monkeypatch.setenv("VERDICTFLOW_DASK__USE_DASK", "false")
    reset_settings()
    return home


def _flow_runs() -> int:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.count_flow_runs()  # a count: a listing is capped at 200 rows


def _artifacts() -> int:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.request("POST", "/artifacts/count", json={}).json()


@pytest.mark.slow
def test_one_item_takes_the_fast_path_and_matches_the_flow(prefect_harness, local_home):
    from flows.verify import verify_items
    from storage.repository import current_repository

    before, artifacts = _flow_runs(), _artifacts()
    fast = verify_items(items=[_item(2)])
    assert _flow_runs() == before  # no flow run was created
    # ... and no artifact: outside a run one would start a temporary Prefect server
    assert _artifacts() == artifacts
    run = current_repository().get_run(fast.run_id)
    assert run["status"] == "completed" and run["timings"]["execution"] == "inline"
    assert fast.counts["items"] == 1 and fast.counts["claims"] == 1

    # The full flow on the same item (another run id) gives the same verdict.
    flow = verify_items.flow(items=[_item(2)], parent_run_id="through-prefect")
    assert _flow_runs() == before + 1
    assert flow.run_id != fast.run_id
    (a,), (b,) = fast.verdicts, flow.verdicts
    assert a.label == b.label
    assert a.claims[0].probs == pytest.approx(b.claims[0].probs, abs=1e-6)
    assert a.claims[0].experts == b.claims[0].experts

    # Options set on the entry keep the fast path (a task runner, a name: no flow run).
    from flows.runtime import task_runner

    again = verify_items.with_options(task_runner=task_runner(), name="renamed")(items=[_item(2)])
    assert again.run_id == fast.run_id and _flow_runs() == before + 1
    # ... and the flow behind it has them.
    assert verify_items.with_options(name="renamed").flow.name == "renamed"

    # Re-running writes nothing twice.
    counts = current_repository().table_counts()
    assert verify_items(items=[_item(2)]).run_id == fast.run_id
    assert current_repository().table_counts() == counts


@pytest.mark.slow
def test_fast_path_limits(prefect_harness, local_home, monkeypatch):
    from prefect import flow

    from flows.verify import verify_items

    before = _flow_runs()
    monkeypatch.setenv("VERDICTFLOW_VERIFY__FAST_PATH_MAX_ITEMS", "1")
    reset_settings()
    verify_items(items=[_item(3), _item(4)])  # over the limit of one item: a flow run
    assert _flow_runs() == before + 1

    @flow
    def parent():
        return verify_items(items=[_item(5)])  # inside a flow: a subflow, never the fast path

    parent()
    assert _flow_runs() == before + 3

    monkeypatch.setenv("VERDICTFLOW_VERIFY__FAST_PATH_MAX_ITEMS", "0")
    reset_settings()
    verify_items(items=[_item(6)])  # turned off
    assert _flow_runs() == before + 4


@pytest.mark.slow
def test_the_fast_path_checks_records_but_runs_no_batch_suite(
    prefect_harness, local_home, monkeypatch
):
    from flows.verify import verify_items
    from storage.repository import current_repository

    repo = current_repository()
    one = verify_items(items=[_item(7)])
    assert one.status == "completed"
    assert repo.load_quality_results(one.run_id) == []  # GX runs on batches, not here

    # An item breaking a record rule is named with its rule, never scored or stored.
    monkeypatch.setenv("VERDICTFLOW_QUALITY__MIN_ITEM_CHARS", "20")
    reset_settings()
    held = verify_items(items=[{"id": "short", "text": "It is 9 kg.", "context": FJELL}])
    assert [(e.item_id, e.rule) for e in held.errors] == [("short", "text_length")]
    assert held.verdicts == [] and held.status == "failed"

    # The flow run of the same kind of item stores the batch suites' results.
    flow = verify_items.flow(items=[_item(8)])
    suites = {r.suite for r in repo.load_quality_results(flow.run_id)}
    assert suites == {"evidence", "outputs", "batch"}
