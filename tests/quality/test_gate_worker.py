"""The gate worker: a warm child process that runs the gates with the parent's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from quality.gate_worker import GateCall, GateWorker, run_gate
from quality.gates import check_batch, check_inputs, check_output_claims, check_outputs
from tests.quality import quality_data as data
from verdictflow.config import reset_settings
from verdictflow.contracts import Item


@pytest.fixture(scope="module")
def worker():
    worker = GateWorker()
    assert worker.wait_ready(120), "the gate worker did not start"
    yield worker
    worker.close()


def _items() -> list[Item]:
    return [*data.items(3), Item(id="short", text="ok")]


def test_a_gate_in_the_worker_gives_what_it_gives_here(worker, home: Path, monkeypatch) -> None:
    call = worker.submit(check_inputs, _items())
    assert isinstance(call, GateCall)
    there, here = call.result(), check_inputs(_items())
    assert there.failed_ids == here.failed_ids == {}
    assert [(r.column, r.success) for r in there.results] == [
        (r.column, r.success) for r in here.results
    ]
    # The parent's settings go with every call: a minimum length the short item breaks.
    monkeypatch.setenv("VERDICTFLOW_QUALITY__MIN_ITEM_CHARS", "5")
    reset_settings()
    assert worker.submit(check_inputs, _items()).result().failed_ids == {"short": "text_length"}
    monkeypatch.delenv("VERDICTFLOW_QUALITY__MIN_ITEM_CHARS")
    reset_settings()
    assert worker.submit(check_inputs, _items()).result().failed_ids == {}


def test_errors_come_back_and_the_worker_goes_on(worker, home: Path) -> None:
    verdicts = data.verdicts(2)
    with pytest.raises(ValueError, match="unknown label 'maybe'"):
        worker.submit(check_batch, verdicts, {verdicts[0].item_id: "maybe"}).result()
    half = worker.submit(check_output_claims, verdicts).result()
    whole = check_outputs(verdicts, [v.item_id for v in verdicts])
    assert not half.failed and half.results == whole.results[: len(half.results)]


def test_one_call_at_a_time(worker, home: Path) -> None:
    first = worker.submit(check_inputs, _items())
    assert worker.submit(check_inputs, _items()) is None  # busy: the caller runs it itself
    first.result()
    second = worker.submit(check_inputs, _items())
    assert second is not None
    second.result()


def test_a_dead_worker_falls_back_and_starts_again(home: Path, monkeypatch) -> None:
    worker = GateWorker()
    assert worker.wait_ready(120)
    call = worker.submit(check_inputs, _items())
    worker._proc.kill()
    worker._proc.wait()
    with pytest.raises(RuntimeError, match="gate worker died"):
        call.result()
    assert worker.submit(check_inputs, _items()) is None  # starting again, not ready yet
    assert worker.wait_ready(120)
    assert worker.submit(check_inputs, _items()).result().failed_ids == {}
    worker.close()


def test_run_gate_runs_here_when_the_worker_is_off(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("VERDICTFLOW_QUALITY__GATE_PROCESS", "false")
    reset_settings()
    done = run_gate(check_inputs, _items())
    assert not isinstance(done, GateCall)
    assert done.result().failed_ids == {}


def test_an_interrupted_reply_stops_the_worker(home: Path, monkeypatch) -> None:
    import quality.gate_worker as gw

    worker = GateWorker()
    assert worker.wait_ready(120)
    call = worker.submit(check_inputs, _items())

    def interrupted(stream):
        raise KeyboardInterrupt

    receive = gw._receive
    monkeypatch.setattr(gw, "_receive", interrupted)
    with pytest.raises(KeyboardInterrupt):
        call.result()
    monkeypatch.setattr(gw, "_receive", receive)
    # Its half-read reply must not answer the next call: a fresh child does.
    assert worker._proc is None
    assert worker.wait_ready(120)
    assert worker.submit(check_inputs, _items()).result().failed_ids == {}
    worker.close()
