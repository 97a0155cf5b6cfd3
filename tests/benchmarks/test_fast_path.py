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
    from tasks.common import current_repository

    before, artifacts = _flow_runs(), _artifacts()
    fast = verify_items(items=[_item(2)])
    assert _flow_runs() == before  # no flow run was created
    # ... and no artifact: outside a run one would start a temporary Prefect server
    assert _artifacts() == artifacts
    run = current_repository().get_run(fast.run_id)
    assert run["status"] == "completed" and run["timings"]["fast_path"] is True
    assert fast.counts["items"] == 1 and fast.counts["claims"] == 1

    # The full flow on the same item (another run id) gives the same verdict.
    flow = verify_items.with_options()(items=[_item(2)], parent_run_id="through-prefect")
    assert _flow_runs() == before + 1
    assert flow.run_id != fast.run_id
    (a,), (b,) = fast.verdicts, flow.verdicts
    assert a.label == b.label
    assert a.claims[0].probs == pytest.approx(b.claims[0].probs, abs=1e-6)
    assert a.claims[0].experts == b.claims[0].experts

    # Re-running writes nothing twice.
    counts = current_repository().table_counts()
    assert verify_items(items=[_item(2)]).run_id == fast.run_id
    assert current_repository().table_counts() == counts


@pytest.mark.slow
def test_fast_path_limits(prefect_harness, local_home, monkeypatch):
    from prefect import flow

    from flows.verify import verify_items

    before = _flow_runs()
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
def test_fast_path_gates_in_the_worker_match_the_gates_here(
    prefect_harness, local_home, monkeypatch
):
    from flows.verify import verify_items
    from quality.gate_worker import gate_worker, warm_up
    from tasks.common import current_repository

    assert warm_up(120)
    repo = current_repository()

    def run(item: dict, **env: str):
        for key, value in env.items():
            monkeypatch.setenv(f"VERDICTFLOW_{key}", value)
        reset_settings()
        result = verify_items(items=[item])
        return result, sorted(
            (r.column, r.success) for r in repo.load_quality_results(result.run_id)
        )

    served = gate_worker().served
    there, there_quality = run(_item(7))
    assert gate_worker().served == served + 3  # inputs, evidence, outputs (claims)
    here, here_quality = run({**_item(7), "id": "fast-7-here"}, QUALITY__GATE_PROCESS="false")
    assert gate_worker().served == served + 3  # turned off: all ran here
    assert there.status == here.status == "completed"
    assert there_quality == here_quality and len(there_quality) >= 10
    assert there.verdicts[0].claims[0].probs == pytest.approx(here.verdicts[0].claims[0].probs)

    # An item the inputs gate holds back (too short for the setting) is split and searched
    # while the gate runs, but never scored or stored.
    short = {"id": "short", "text": "It is 9 kg.", "context": FJELL}
    held, _ = run(short, QUALITY__GATE_PROCESS="true", QUALITY__MIN_ITEM_CHARS="20")
    assert [e.rule for e in held.errors] == ["inputs.text_length"]
    assert held.verdicts == [] and held.status == "failed"
