"""The verify flow end to end: real Prefect runs, real experts, real storage."""

from __future__ import annotations

import json

import pytest

from verdictflow.config import get_settings, reset_settings

FJELL = (
    "The Fjell S1 is a portable Bluetooth speaker rated IP67. It weighs 1.1 kilograms and plays "
    "for up to 20 hours on a charge. It charges over USB-C in about 3 hours."
)
ITEMS = [
    {
        "id": "true-1",
        "text": "The Fjell S1 plays for up to 20 hours on a charge.",
        "context": FJELL,
    },
    {"id": "num-1", "text": "The Fjell S1 plays for up to 30 hours on a charge.", "context": FJELL},
    {
        "id": "two-claims",
        "text": "The Fjell S1 is rated IP67. It weighs 2.5 kilograms.",
        "context": FJELL,
    },
]


@pytest.fixture
def local_home(home, monkeypatch):
    """A fresh home, in-process expert batches (the Dask path has its own tests)."""
    monkeypatch.setenv("VERDICTFLOW_DASK__USE_DASK", "false")
    reset_settings()
    return home


def _repo():
    from storage.repository import current_repository

    return current_repository()


def test_verify_items_gives_every_item_a_verdict_and_stores_it(prefect_harness, local_home):
    from flows.verify import verify_items

    result = verify_items(items=ITEMS)
    assert result.status == "completed"
    by_id = {v.item_id: v for v in result.verdicts}
    assert set(by_id) == {"true-1", "num-1", "two-claims"}
    assert len(by_id["two-claims"].claims) == 2
    # A changed number is a contradiction; the item follows its weakest claim.
    assert by_id["num-1"].label.value == "contradicted"
    assert by_id["two-claims"].label.value == "contradicted"
    assert by_id["true-1"].p_supported > by_id["num-1"].p_supported
    for verdict in result.verdicts:
        for claim in verdict.claims:
            assert claim.evidence and claim.experts
            assert abs(sum(claim.probs) - 1) < 1e-6

    repo = _repo()
    assert repo.get_run(result.run_id)["status"] == "completed"
    before = repo.table_counts()
    again = verify_items(items=ITEMS)
    assert again.run_id == result.run_id
    assert repo.table_counts() == before  # idempotent: nothing written twice
    assert [v.model_dump() for v in again.verdicts] == [v.model_dump() for v in result.verdicts]


def test_rerun_checks_the_same_input_again_as_a_new_run(prefect_harness, local_home):
    from flows.verify import verify_items, verify_items_flow

    first = verify_items_flow(items=ITEMS[:1])
    assert verify_items_flow(items=ITEMS[:1]).run_id == first.run_id
    flow_rerun = verify_items_flow(items=ITEMS[:1], rerun=True)
    fast_rerun = verify_items(items=ITEMS[:1], rerun=True)  # the in-process path too
    assert len({first.run_id, flow_rerun.run_id, fast_rerun.run_id}) == 3
    stored = {r["run_id"]: r["status"] for r in _repo().list_runs(limit=10)}
    assert [stored[r.run_id] for r in (first, flow_rerun, fast_rerun)] == ["completed"] * 3
    # The same experts on the same input: the same verdicts, stored again.
    assert flow_rerun.verdicts[0].p_supported == pytest.approx(first.verdicts[0].p_supported)


def test_bad_records_are_stored_with_the_run_and_good_ones_go_on(prefect_harness, local_home):
    from flows.verify import verify_items

    records = [*ITEMS[:1], {"id": "empty", "text": " "}, {"text": "no id"}, ITEMS[0]]
    result = verify_items(items=records)
    assert [v.item_id for v in result.verdicts] == ["true-1"]
    assert sorted(e.rule for e in result.errors) == ["duplicate_id", "id", "text"]
    assert _repo().table_counts()["input_errors"] >= 3


def test_a_run_that_dies_halfway_resumes_without_duplicates(
    prefect_harness, local_home, monkeypatch
):
    import flows.verify as verify_module
    from experts.mixture.scoring import Scorer

    monkeypatch.setenv("VERDICTFLOW_VERIFY__BATCH_ITEMS", "1")
    monkeypatch.setenv("VERDICTFLOW_ORCHESTRATION__FLOW_RETRIES", "0")
    reset_settings()
    real_score = Scorer.score
    calls = {"n": 0}

    def dies_on_second_batch(self, claims, evidence, runner=None, claim_domains=None):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker lost")
        return real_score(self, claims, evidence, runner, claim_domains)

    monkeypatch.setattr(Scorer, "score", dies_on_second_batch)
    with pytest.raises(RuntimeError, match="worker lost"):
        verify_module.verify_items(items=ITEMS)
    repo = _repo()
    partial = repo.table_counts()["item_verdicts"]
    assert partial == 1

    result = verify_module.verify_items(items=ITEMS)
    assert result.status == "completed"
    assert len(result.verdicts) == 3
    assert calls["n"] == 4  # the first batch was not scored again
    counts = repo.table_counts()
    assert counts["item_verdicts"] == 3
    assert counts["claim_verdicts"] == 4
    assert get_settings().verify.batch_items == 1


def test_a_run_is_its_input_as_given_bad_lines_included(prefect_harness, local_home, tmp_path):
    from flows.verify import verify_items

    repo = _repo()
    # Two inputs with nothing checkable but different bad records: two runs, each storing
    # only its own errors.
    a = verify_items(items=[{"id": "a", "text": " "}])
    b = verify_items(items=[{"text": "no id"}])
    assert a.run_id != b.run_id
    assert [e.rule for e in repo.load_input_errors(a.run_id)] == ["text"]
    assert [e.rule for e in repo.load_input_errors(b.run_id)] == ["id"]

    # The same file twice is one run; a file differing only in a bad line is another.
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    good = json.dumps(ITEMS[0])
    first.write_text(good + "\n{broken\n")
    second.write_text(good + "\n{broken too\n")
    one = verify_items(path=str(first))
    again = verify_items(path=str(first))
    other = verify_items(path=str(second))
    assert one.run_id == again.run_id != other.run_id
    stored = repo.load_input_errors(one.run_id)
    assert one.counts["input_errors"] == len(stored) == 1
