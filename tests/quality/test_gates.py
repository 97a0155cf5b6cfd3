"""Each Great Expectations gate passes on good data and fails on the bad case it exists for."""

from __future__ import annotations

from pathlib import Path

import pytest

from quality.gates import (
    EvidenceRows,
    GateOutcome,
    check_batch,
    check_evidence,
    check_evidence_rows,
    check_outputs,
    quality_artifact_markdown,
    run_status,
)
from tests.quality import quality_data as data
from verdictflow.config import reset_settings
from verdictflow.contracts import Evidence, VerdictLabel


@pytest.fixture
def settings_env(home: Path, monkeypatch: pytest.MonkeyPatch):
    """Set VERDICTFLOW_ variables for one test; settings are re-read."""

    def set_env(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"VERDICTFLOW_{key}", value)
        reset_settings()

    return set_env


def _rules(outcome: GateOutcome) -> dict[str, bool]:
    """rule -> passed (all expectations of the rule)."""
    out: dict[str, bool] = {}
    for r in outcome.results:
        rule = r.details["rule"]
        out[rule] = out.get(rule, True) and r.success
    return out


# ------------------------------------------------------------------ evidence


def test_evidence_passes_with_a_no_evidence_claim() -> None:
    claims = data.claims(3)
    evidence = data.evidence(3)
    evidence["item-2:0"] = []  # marked no_evidence: allowed
    outcome = check_evidence(claims, evidence)
    assert not outcome.failed, outcome.results
    assert set(_rules(outcome)) == {
        "has_evidence",
        "evidence_owner",
        "score_finite",
        "score_range",
        "rank",
        "evidence_text",
    }


def _ev(claim_id: str, **changes) -> Evidence:
    fields = dict(
        claim_id=claim_id, doc_id="d", chunk_id="d:9", text="Evidence text.", score=0.5, rank=0
    )
    fields.update(changes)
    return Evidence(**fields)


@pytest.mark.parametrize(
    ("chunk", "rule"),
    [
        (_ev("item-1:0", score=float("nan")), "score_finite"),
        (_ev("item-1:0", score=float("inf")), "score_finite"),
        (_ev("item-1:0", score=-3.0), "score_range"),
        (_ev("item-1:0", rank=-1), "rank"),
        (_ev("item-1:0", text=""), "evidence_text"),
        (_ev("item-0:0"), "evidence_owner"),  # listed under item-1:0 but belongs to item-0:0
    ],
)
def test_evidence_fails_on_the_bad_case(chunk: Evidence, rule: str) -> None:
    evidence = data.evidence(3)
    evidence["item-1:0"] = [*evidence["item-1:0"], chunk]
    outcome = check_evidence(data.claims(3), evidence)
    assert [r for r, ok in _rules(outcome).items() if not ok] == [rule]
    assert outcome.failed_ids == {"item-1:0": rule}


def test_claim_without_evidence_entry_fails() -> None:
    evidence = data.evidence(3)
    del evidence["item-2:0"]
    outcome = check_evidence(data.claims(3), evidence)
    assert outcome.failed_ids == {"item-2:0": "has_evidence"}


def test_evidence_rows_kept_batch_by_batch_give_the_whole_runs_outcome() -> None:
    claims, evidence = data.claims(4), data.evidence(4)
    evidence["item-3:0"] = [*evidence["item-3:0"], _ev("item-3:0", text="")]
    del evidence["item-1:0"]
    whole = check_evidence(claims, evidence)
    first = {k: v for k, v in evidence.items() if k in ("item-0:0", "item-1:0")}
    second = {k: v for k, v in evidence.items() if k not in first}
    rows = EvidenceRows.concat(
        [EvidenceRows.of(claims[:2], first), EvidenceRows.of(claims[2:], second)]
    )
    assert "text" not in rows.chunks.columns  # lengths only: the texts are not kept
    batched = check_evidence_rows(rows)
    assert (
        batched.failed_ids
        == whole.failed_ids
        == {
            "item-1:0": "has_evidence",
            "item-3:0": "evidence_text",
        }
    )
    assert check_evidence_rows(EvidenceRows.concat([])).results == []


def test_score_bounds_come_from_settings(settings_env) -> None:
    settings_env(QUALITY__MAX_EVIDENCE_SCORE="0.85")
    outcome = check_evidence(data.claims(2), data.evidence(2))
    assert set(outcome.failed_ids.values()) == {"score_range"}


# ------------------------------------------------------------------ outputs


def test_outputs_pass_on_good_verdicts() -> None:
    verdicts = data.verdicts(8)
    assert {v.label for v in verdicts} == set(VerdictLabel)
    outcome = check_outputs(verdicts, [v.item_id for v in verdicts])
    assert not outcome.failed, [r for r in outcome.results if not r.success]
    assert {
        "prob_range",
        "label_allowed",
        "one_verdict_per_item",
        "every_item_verdict",
    } == set(_rules(outcome))


def test_outputs_fail_on_a_missing_or_duplicate_verdict() -> None:
    verdicts = data.verdicts(4)
    outcome = check_outputs(verdicts, [*[v.item_id for v in verdicts], "lost"])
    assert outcome.failed_ids == {"lost": "every_item_verdict"}
    outcome = check_outputs([*verdicts, verdicts[0]])
    assert outcome.failed_ids == {"item-0": "one_verdict_per_item"}


# ------------------------------------------------------------------ batch


def test_batch_passes_within_bounds(settings_env) -> None:
    settings_env(QUALITY__MAX_UNSUPPORTED_SHARE="0.6", QUALITY__MIN_UNSUPPORTED_SHARE="0.1")
    outcome = check_batch(data.verdicts(8))  # 4 of 8 unsupported or contradicted
    assert not outcome.failed
    assert outcome.results[0].details["observed_value"] == pytest.approx(0.5)
    assert run_status(outcome) == "completed"


def test_broken_batch_fails_and_marks_quality_failed(settings_env) -> None:
    settings_env(QUALITY__MAX_UNSUPPORTED_SHARE="0.3")
    broken = [data.item_verdict(f"i{i}", (0.1, 0.1, 0.8)) for i in range(4)]
    broken.append(data.item_verdict("ok", (0.9, 0.05, 0.05)))
    outcome = check_batch(broken)
    assert outcome.failed
    assert _rules(outcome) == {"unsupported_share": False}
    assert outcome.results[0].details["observed_value"] == pytest.approx(0.8)
    assert run_status(outcome) == "quality_failed"
    # A hallucination rate that drops below the floor is an alert too.
    settings_env(QUALITY__MIN_UNSUPPORTED_SHARE="0.9", QUALITY__MAX_UNSUPPORTED_SHARE="1.0")
    assert check_batch(broken).failed


def test_batch_ece_on_labelled_runs(settings_env) -> None:
    settings_env(QUALITY__MAX_ECE="0.1")
    confident = [data.item_verdict(f"i{i}", (0.95, 0.03, 0.02)) for i in range(20)]
    right = {v.item_id: "supported" for v in confident}
    outcome = check_batch(confident, right)
    assert not outcome.failed
    assert _rules(outcome) == {"unsupported_share": True, "ece": True}
    wrong = {
        v.item_id: ("supported" if i < 10 else "not_enough_info") for i, v in enumerate(confident)
    }
    outcome = check_batch(confident, wrong)
    assert _rules(outcome) == {"unsupported_share": True, "ece": False}
    ece = next(r for r in outcome.results if r.details["rule"] == "ece")
    assert ece.details["observed_value"] == pytest.approx(0.45, abs=1e-3)
    assert ece.details["n_labelled"] == 20
    with pytest.raises(ValueError, match="unknown label 'maybe'"):
        check_batch(confident, {"i0": "maybe"})


def test_batch_ece_needs_enough_labelled_verdicts(settings_env) -> None:
    settings_env(QUALITY__MAX_ECE="0.1", QUALITY__MIN_ECE_LABELLED="5")
    confident = [data.item_verdict(f"i{i}", (0.95, 0.03, 0.02)) for i in range(5)]
    wrong = {v.item_id: "not_enough_info" for v in confident}
    assert _rules(check_batch(confident, wrong)) == {"unsupported_share": True, "ece": False}
    # One fewer labelled verdict than the minimum: no ece rule, the batch passes.
    outcome = check_batch(confident[:4], wrong)
    assert _rules(outcome) == {"unsupported_share": True}
    assert run_status(outcome) == "completed"


# ------------------------------------------------------------------ report and cost


def test_artifact_markdown_is_readable() -> None:
    evidence = data.evidence(2)
    del evidence["item-1:0"]
    outcomes = {
        "evidence": check_evidence(data.claims(2), evidence),
        "outputs": check_outputs(data.verdicts(4)),
    }
    text = quality_artifact_markdown(outcomes)
    assert "## evidence: FAILED" in text and "## outputs: passed" in text
    assert "| has_evidence | expect_column_values_to_be_in_set |" in text
    assert "`item-1:0` (has_evidence)" in text


def test_gates_pass_on_a_1000_item_run() -> None:
    claims = data.claims(1000)
    evidence = data.evidence(1000)
    verdicts = data.verdicts(1000)
    outcomes = {
        "evidence": check_evidence(claims, evidence),
        "outputs": check_outputs(verdicts, [v.item_id for v in verdicts]),
        "batch": check_batch(verdicts),
    }
    assert not any(o.failed for o in outcomes.values())
    assert sum(len(o.results) for o in outcomes.values()) >= 10
