"""Repository writes and reads on SQLite and real PostgreSQL: idempotent, round-tripping."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from storage.repository import Repository
from tests.storage.conftest import make_scores, make_verdicts
from verdictflow.config import reset_settings
from verdictflow.contracts import (
    Claim,
    DocumentRecord,
    Evidence,
    InputError,
    Item,
    QualityResult,
)


def _claims(n: int) -> list[Claim]:
    return [
        Claim(
            item_id=f"item-{i // 3}",
            claim_id=f"item-{i // 3}#{i % 3}",
            index=i % 3,
            text=f"claim {i}",
            start=10 * (i % 3),
            end=10 * (i % 3) + 9,
        )
        for i in range(n)
    ]


def _assert_idempotent(repo: Repository, save, run_id: str, payload: list, expected: int) -> None:
    assert save(run_id, payload) == expected
    counts = repo.table_counts()
    assert save(run_id, payload) == 0
    assert repo.table_counts() == counts


def test_runs_start_resume_finish(repo: Repository, run_id: str) -> None:
    assert repo.start_run(run_id, "verify", {"path": "x.jsonl", "k": 5}, "abc123") is True
    run = repo.get_run(run_id)
    assert run["status"] == "running" and run["finished_at"] is None
    assert run["started_at"].tzinfo is not None
    repo.finish_run(run_id, "failed", {"items": 3}, {"total_s": 1.5})
    assert repo.get_run(run_id)["status"] == "failed"
    # Started again: resumed, not duplicated; parameters kept.
    assert repo.start_run(run_id, "verify", {"other": 1}, "abc123") is False
    run = repo.get_run(run_id)
    assert run["status"] == "running" and run["finished_at"] is None
    assert run["parameters"] == {"path": "x.jsonl", "k": 5}
    repo.finish_run(run_id, "completed", {"items": 3, "claims": 7}, {"total_s": 2.0})
    run = repo.get_run(run_id)
    assert (run["status"], run["counts"], run["timings"]) == (
        "completed",
        {"items": 3, "claims": 7},
        {"total_s": 2.0},
    )
    assert run["finished_at"] >= run["started_at"]
    assert repo.get_run("no-such-run") is None


def test_runs_bad_values_and_listing(repo: Repository, run_id: str) -> None:
    with pytest.raises(ValueError, match="kind 'bogus'"):
        repo.start_run(run_id, "bogus", {}, "v")
    repo.start_run(run_id, "verify", {}, "v")
    with pytest.raises(ValueError, match="status 'done'"):
        repo.finish_run(run_id, "done", {}, {})
    with pytest.raises(KeyError, match="never started"):
        repo.finish_run(run_id + "-missing", "completed", {}, {})
    child = run_id + "-re"
    repo.start_run(child, "reprocess", {}, "v", parent_run_id=run_id)
    newest = repo.list_runs(limit=2)
    assert [r["run_id"] for r in newest] == [child, run_id]
    assert repo.list_runs(kind="reprocess", limit=100)[0]["parent_run_id"] == run_id
    assert all(r["kind"] == "reprocess" for r in repo.list_runs(kind="reprocess", limit=100))


def test_items_idempotent_ordered_and_unicode(repo: Repository, run_id: str) -> None:
    long_text = "Ünïcödé ✓ 价格 🚀 " * 20_000  # ~340k characters
    items = [
        Item(id="z-last-id", text="first saved", metadata={"src": "a", "n": [1, 2]}),
        Item(id="a-first-id", text=long_text, context="ctx ‘quoted’", question="q?"),
        Item(id="nul", text="a\x00b", metadata={"bad\x00key": "v\x00"}),
    ]
    _assert_idempotent(repo, repo.save_items, run_id, items, 3)
    # A later batch (resume) appends after the first one, duplicates skipped.
    assert repo.save_items(run_id, [items[0], Item(id="m", text="later")]) == 1
    loaded = repo.load_items(run_id)
    assert [i.id for i in loaded] == ["z-last-id", "a-first-id", "nul", "m"]
    assert loaded[0] == items[0] and loaded[1] == items[1]
    assert loaded[2].text == "a\ufffdb" and loaded[2].metadata == {"bad\ufffdkey": "v\ufffd"}
    assert [i.id for i in repo.load_items(run_id, ["m", "a-first-id"])] == ["a-first-id", "m"]
    assert repo.load_items("other-" + run_id) == []


def test_claims_evidence_errors_quality_idempotent(repo: Repository, run_id: str) -> None:
    repo.start_run(run_id, "verify", {}, "v")
    _assert_idempotent(repo, repo.save_claims, run_id, _claims(30), 30)
    evidence = [
        Evidence(
            claim_id=f"item-0#{i % 3}",
            doc_id=f"d{i % 4}",
            chunk_id=f"d{i % 4}:{i}",
            text="chunk text",
            score=1.0 / (i + 1),
            rank=i,
        )
        for i in range(12)
    ]
    # Duplicates inside one batch count once.
    _assert_idempotent(repo, repo.save_evidence, run_id, evidence + evidence[:3], 12)
    errors = [
        InputError(line=3, item_id=None, rule="json", message="line 3: not JSON"),
        InputError(line=4, item_id="x", rule="missing_text", message="no text"),
        InputError(line=None, item_id="x", rule="duplicate_id", message="dup"),
        InputError(line=None, item_id=None, rule="too_large", message="10 MB"),
    ]
    _assert_idempotent(repo, repo.save_input_errors, run_id, errors, 4)
    results = [
        QualityResult(
            suite="inputs",
            expectation="expect_column_values_to_not_be_null",
            column="text",
            success=False,
            unexpected_count=2,
            examples=["", None],
            details={"ratio": 0.1},
        ),
        QualityResult(
            suite="batch", expectation="expect_table_row_count_to_be_between", success=True
        ),
        QualityResult(
            suite="outputs",
            expectation="expect_column_values_to_be_between",
            column="p_supported",
            success=True,
        ),
    ]
    _assert_idempotent(repo, repo.save_quality_results, run_id, results, 3)
    assert repo.load_input_errors(run_id) == [errors[i] for i in (0, 1, 3, 2)]
    assert repo.load_quality_results(run_id) == [results[i] for i in (1, 0, 2)]
    # The same records under another run are new rows.
    assert repo.save_input_errors(run_id + "-b", errors) == 4


def test_expert_scores_large_batch(repo: Repository, run_id: str) -> None:
    scores = make_scores(1000, experts=4, chunks=5)  # 20,000 rows
    before = repo.table_counts()["expert_scores"]
    _assert_idempotent(repo, repo.save_expert_scores, run_id, scores, 20_000)
    assert repo.table_counts()["expert_scores"] == before + 20_000


def test_verdicts_round_trip(repo: Repository, run_id: str) -> None:
    verdicts = make_verdicts(25, claims_per_item=3, evidence_per_claim=3, seed=7)
    repo.save_items(run_id, [Item(id=v.item_id, text="t") for v in reversed(verdicts)])
    _assert_idempotent(repo, repo.save_verdicts, run_id, verdicts, 25 + 75)
    loaded = repo.load_item_verdicts(run_id)
    # Items come back in the order they were saved as items (reversed here).
    assert loaded == list(reversed(verdicts))
    assert repo.claim_ids_done(run_id) == {c.claim_id for v in verdicts for c in v.claims}
    assert repo.claim_ids_done(run_id + "-none") == set()


def test_open_run_and_save_batch_write_what_the_single_calls_write(
    repo: Repository, run_id: str
) -> None:
    """The verify path's two transactions (``open_run``, ``save_batch``) store the rows and
    return the counts of the calls they stand for, and are as idempotent."""
    verdicts = make_verdicts(4, claims_per_item=2, evidence_per_claim=2, seed=9)
    items = [Item(id=v.item_id, text="t") for v in verdicts]
    errors = [InputError(line=7, item_id=None, rule="json", message="line 7: not JSON")]
    claims = [
        Claim(item_id=c.item_id, claim_id=c.claim_id, index=i, text=c.text, start=0, end=1)
        for v in verdicts
        for i, c in enumerate(v.claims)
    ]
    evidence = [e for v in verdicts for c in v.claims for e in c.evidence]
    scores = make_scores(len(claims), experts=2, chunks=2)
    scores = [
        s.model_copy(update={"claim_id": c.claim_id}) for s, c in zip(scores, claims, strict=True)
    ]

    assert repo.open_run(run_id, "verify", {"k": 5}, "v", items, errors) is True
    expected = {"claims": 8, "evidence": 16, "expert_scores": 32, "verdicts": 4 + 8}
    assert repo.save_batch(run_id, claims, evidence, scores, verdicts) == expected
    counts = repo.table_counts()
    assert repo.open_run(run_id, "verify", {"k": 5}, "v", items, errors) is False
    assert repo.save_batch(run_id, claims, evidence, scores, verdicts) == dict.fromkeys(expected, 0)
    assert repo.table_counts() == counts
    assert repo.get_run(run_id)["status"] == "running"
    assert [i.id for i in repo.load_items(run_id)] == [i.id for i in items]
    assert repo.load_input_errors(run_id) == errors
    assert repo.load_item_verdicts(run_id) == verdicts
    assert repo.claim_ids_done(run_id) == {c.claim_id for c in claims}
    with pytest.raises(ValueError, match="kind 'bogus'"):
        repo.open_run(run_id + "-x", "bogus", {}, "v", items, errors)
    assert repo.get_run(run_id + "-x") is None and repo.load_items(run_id + "-x") == []


def test_spans_read_back_through_insert_and_copy(
    repo: Repository, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    verdicts = make_verdicts(6, claims_per_item=2, seed=11)
    assert any(c.spans for v in verdicts for c in v.claims)
    repo.save_verdicts(run_id, verdicts[:3])  # a few rows: INSERT
    monkeypatch.setenv("VERDICTFLOW_STORAGE__COPY_MIN_ROWS", "1")
    reset_settings()
    try:
        repo.save_verdicts(run_id, verdicts)  # the rest: COPY on PostgreSQL
    finally:
        monkeypatch.delenv("VERDICTFLOW_STORAGE__COPY_MIN_ROWS")
        reset_settings()
    loaded = {c.claim_id: c.spans for v in repo.load_item_verdicts(run_id) for c in v.claims}
    assert loaded == {c.claim_id: c.spans for v in verdicts for c in v.claims}


def test_evidence_keeps_the_similarity_readers_are_shown(repo: Repository, run_id: str) -> None:
    (verdict,) = make_verdicts(1, claims_per_item=1, evidence_per_claim=2, seed=5)
    (claim,) = verdict.claims
    first, second = claim.evidence
    evidence = [first.model_copy(update={"similarity": 0.625}), second]  # second: None
    verdict = verdict.model_copy(
        update={"claims": [claim.model_copy(update={"evidence": evidence})]}
    )
    repo.save_verdicts(run_id, [verdict])
    (loaded,) = repo.load_item_verdicts(run_id)
    by_chunk = {e.chunk_id: e for e in loaded.claims[0].evidence}
    assert by_chunk[first.chunk_id].similarity == 0.625
    assert by_chunk[first.chunk_id].score == first.score  # the retrieval score stays
    assert by_chunk[second.chunk_id].similarity is None


def test_verdicts_resume_in_parts(repo: Repository, run_id: str) -> None:
    verdicts = make_verdicts(10, seed=3)
    assert repo.save_verdicts(run_id, verdicts[:4]) == 4 + 8
    assert repo.save_verdicts(run_id, verdicts) == 6 + 12
    assert sorted(repo.load_item_verdicts(run_id), key=lambda v: v.item_id) == sorted(
        verdicts, key=lambda v: v.item_id
    )


def test_items_citing_documents(repo: Repository, run_id: str) -> None:
    other = run_id + "-b"
    verdicts = make_verdicts(7, claims_per_item=1, evidence_per_claim=1)  # item i cites doc-i
    repo.save_verdicts(run_id, verdicts)
    # Evidence stored for claims only (no verdict yet) also counts.
    repo.save_claims(other, [Claim(item_id="x", claim_id="x#0", index=0, text="c", start=0, end=1)])
    repo.save_evidence(
        other,
        [Evidence(claim_id="x#0", doc_id="doc-3", chunk_id="doc-3:9", text="t", score=0.2, rank=0)],
    )
    found = repo.items_citing_documents(["doc-3", "doc-5", "doc-missing"])
    mine = [f for f in found if f[0] in (run_id, other)]
    assert mine == sorted([(run_id, "item-3"), (run_id, "item-5"), (other, "x")])
    assert repo.items_citing_documents([]) == []
    assert [f for f in repo.items_citing_documents(["doc-missing"]) if f[0] == run_id] == []


def test_documents_upsert_and_delete(
    repo: Repository, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage import rows

    # The repository's clock, stepped by the test: one minute later at every write.
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ticks = itertools.count()
    monkeypatch.setattr(rows, "utcnow", lambda: start + timedelta(minutes=next(ticks)))
    a = DocumentRecord(
        doc_id=f"{run_id}/a.md",
        source="a.md",
        content_hash="h1",
        n_chunks=3,
        metadata={"lang": "en"},
    )
    b = DocumentRecord(doc_id=f"{run_id}/b.md", source="b.md", content_hash="h9", n_chunks=1)
    repo.upsert_documents([a, b])
    docs = repo.get_documents()
    assert docs[a.doc_id] == a and docs[b.doc_id] == b
    times = repo.get_document_times(a.doc_id)
    assert times == {"ingested_at": start, "updated_at": start}
    # Unchanged: nothing is touched (the clock moved on).
    repo.upsert_documents([a])
    assert repo.get_document_times(a.doc_id) == times
    # Changed hash: the row is updated in place, ingested again.
    a2 = a.model_copy(update={"content_hash": "h2", "n_chunks": 5})
    count = repo.table_counts()["documents"]
    repo.upsert_documents([a2])
    assert repo.get_documents()[a.doc_id] == a2
    assert repo.table_counts()["documents"] == count
    later = start + timedelta(minutes=2)
    assert repo.get_document_times(a.doc_id) == {"ingested_at": later, "updated_at": later}
    # Failed ingest is recorded with its error.
    failed = b.model_copy(update={"status": "failed", "error": "no text layer"})
    repo.upsert_documents([failed])
    assert repo.get_documents()[b.doc_id].error == "no text layer"
    # Deletion marking counts only rows that change.
    assert repo.mark_documents_deleted([a.doc_id, b.doc_id, "nope"]) == 2
    assert repo.mark_documents_deleted([a.doc_id]) == 0
    assert repo.get_documents()[a.doc_id].status == "deleted"
    with pytest.raises(ValueError, match="status 'gone'"):
        repo.upsert_documents([a.model_copy(update={"status": "gone"})])


def test_overlong_ids_are_refused_by_rule_and_nothing_is_written(
    repo: Repository, run_id: str
) -> None:
    before = repo.table_counts()
    good = make_verdicts(3)
    bad_claim = good[2].claims[0].model_copy(update={"claim_id": "c" * 600})
    bad = good[2].model_copy(update={"claims": [bad_claim]})
    with pytest.raises(ValueError, match=r"claim_verdicts row .*claim_id has 600 .*max_length"):
        repo.save_verdicts(run_id, [*good[:2], bad])
    assert repo.table_counts() == before  # one transaction: the good rows were not half-written
    # An input error about such a record is stored whole (its item id is not a key).
    err = InputError(line=1, item_id="x" * 5000, rule="max_size", message="too long")
    assert repo.save_input_errors(run_id, [err]) == 1


def test_json_columns_take_nan_numpy_and_nested_values(repo: Repository, run_id: str) -> None:
    import numpy as np

    result = QualityResult(
        suite="outputs",
        expectation="expect_column_mean_to_be_between",
        column="p_supported",
        success=False,
        unexpected_count=int(np.int64(2)),
        examples=[float("nan"), np.float32(0.25), {"nested": [1, "ü"]}],
        details={"observed_value": float("nan"), "arr": np.array([1.5, np.inf]), "n": np.int64(7)},
    )
    assert repo.save_quality_results(run_id, [result]) == 1
    repo.start_run(run_id, "evaluate", {"thresholds": np.array([0.1, 0.2])}, "v")
    repo.finish_run(run_id, "quality_failed", {"items": np.int64(4)}, {"ece": float("inf")})
    run = repo.get_run(run_id)
    assert run["parameters"] == {"thresholds": [0.1, 0.2]}
    assert (run["status"], run["counts"], run["timings"]) == (
        "quality_failed",
        {"items": 4},
        {"ece": None},
    )
    (stored,) = repo.load_quality_results(run_id)
    assert stored.examples == [None, 0.25, {"nested": [1, "ü"]}]
    assert stored.details == {"observed_value": None, "arr": [1.5, None], "n": 7}
