import pytest

from verdictflow.contracts import Claim, ClaimVerdict, Evidence, Item, Span, VerdictLabel
from verdictflow.verdicts import group_items, item_verdict, no_evidence_verdict, output_row, run_key


def _cv(claim_id: str, label: VerdictLabel, p: float) -> ClaimVerdict:
    return ClaimVerdict(
        item_id=claim_id.split(":")[0],
        claim_id=claim_id,
        text=f"claim {claim_id}",
        label=label,
        probs=(p, 0.0, 1 - p) if label is VerdictLabel.UNSUPPORTED else (p, 1 - p, 0.0),
        p_supported=p,
    )


def test_item_follows_its_weakest_claim():
    verdict = item_verdict(
        "a",
        [
            _cv("a:0", VerdictLabel.SUPPORTED, 0.9),
            _cv("a:1", VerdictLabel.CONTRADICTED, 0.3),
            _cv("a:2", VerdictLabel.UNSUPPORTED, 0.2),
        ],
    )
    assert verdict.label is VerdictLabel.CONTRADICTED
    assert abs(verdict.p_supported - (0.9 + 0.3 + 0.2) / 3) < 1e-9  # verify.item_rule "mean"


def test_item_rule_setting_changes_the_item_p_supported_not_its_label(monkeypatch):
    from verdictflow.config import reset_settings

    monkeypatch.setenv("VERDICTFLOW_VERIFY__ITEM_RULE", "weakest")
    reset_settings()
    try:
        claims = [
            _cv("a:0", VerdictLabel.SUPPORTED, 0.9),
            _cv("a:1", VerdictLabel.CONTRADICTED, 0.3),
        ]
        verdict = item_verdict("a", claims)
        assert verdict.p_supported == 0.3
        assert verdict.label is VerdictLabel.CONTRADICTED
    finally:
        monkeypatch.delenv("VERDICTFLOW_VERIFY__ITEM_RULE")
        reset_settings()


def test_all_supported_item_is_supported_and_claims_stay_in_order():
    claims = [_cv(f"b:{i}", VerdictLabel.SUPPORTED, 0.8 + i / 100) for i in (10, 2, 0)]
    (verdict,) = group_items(claims)
    assert verdict.label is VerdictLabel.SUPPORTED
    assert [c.claim_id for c in verdict.claims] == ["b:0", "b:2", "b:10"]


def test_no_evidence_is_unsupported_and_output_row_contract():
    claim = Claim(item_id="x", claim_id="x:0", index=0, text="Nothing says so.", start=0, end=16)
    verdict = item_verdict("x", [no_evidence_verdict(claim)])
    row = output_row(verdict, "run-1")
    assert row["verdict"] == "unsupported" and row["p_supported"] == 0.0
    assert row["claims"][0]["no_evidence"] is True
    assert set(row) == {"id", "verdict", "p_supported", "claims", "run_id"}


def test_run_key_depends_on_content_and_parameters():
    items = [Item(id="a", text="One.")]
    assert run_key(items, {"k": 1}) == run_key(list(items), {"k": 1})
    assert run_key(items, {"k": 1}) != run_key(items, {"k": 2})
    assert run_key(items, {"k": 1}) != run_key([Item(id="a", text="Two.")], {"k": 1})


def test_output_rows_carry_each_claim_s_spans():
    text = "The Aurora X2 weigh 310 grams."
    span = Span(start=20, end=23, text="310", kind="contradicted", score=0.95)
    claim = ClaimVerdict(
        item_id="a",
        claim_id="a:0",
        text=text,
        label=VerdictLabel.CONTRADICTED,
        probs=(0.05, 0.9, 0.05),
        p_supported=0.05,
        spans=[span],
    )
    (row,) = output_row(item_verdict("a", [claim]), "run-1")["claims"]
    assert row["spans"] == [
        {"start": 20, "end": 23, "text": "310", "kind": "contradicted", "score": 0.95}
    ]
    assert (
        output_row(item_verdict("b", [_cv("b:0", VerdictLabel.SUPPORTED, 0.9)]), "r")["claims"][0][
            "spans"
        ]
        == []
    )


def test_output_rows_show_evidence_by_rank_and_similarity():
    def evidence(chunk_id: str, rank: int, similarity: float | None) -> Evidence:
        return Evidence(claim_id="a:0", doc_id="d", chunk_id=chunk_id, text="The X2 weigh 254 g.",
                        score=1 / (60 + rank), rank=rank, similarity=similarity)  # fmt: skip

    claim = _cv("a:0", VerdictLabel.SUPPORTED, 0.9).model_copy(
        update={
            "evidence": [evidence("d#0", 1, 0.71234), evidence("d#1", 2, None)],
            "best_evidence": "d#0",
        }  # fmt: skip
    )
    first, second = output_row(item_verdict("a", [claim]), "r")["claims"][0]["evidence"]
    assert first["rank"] == 1 and first["similarity"] == 0.7123 and first["decisive"]
    assert first["retrieval_score"] == round(1 / 61, 4) and "score" not in first
    assert second["similarity"] is None and not second["decisive"]  # stored before it was


def test_item_rules_weakest_mean_and_product():
    from verdictflow.verdicts import item_p_supported

    values = [0.9, 0.5, 0.8]
    assert item_p_supported(values, "weakest") == 0.5
    assert abs(item_p_supported(values, "mean") - 2.2 / 3) < 1e-9
    assert abs(item_p_supported(values, "product") - 0.36) < 1e-9
    with pytest.raises(ValueError, match="unknown item rule 'median'"):
        item_p_supported(values, "median")
