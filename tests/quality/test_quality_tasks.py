"""The quality tasks in a real Prefect flow: artifacts published, results stored with the run."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
import sqlalchemy as sa
from prefect import flow

from quality.gates import EvidenceRows, run_status
from tasks.quality import (
    all_results,
    quality_report,
    validate_batch,
    validate_evidence,
    validate_outputs,
)
from tests.quality import quality_data as data
from verdictflow.config import reset_settings
from verdictflow.inputs import coerce_items


@flow(name="quality-gates-test")
def gates_flow(n: int) -> tuple[str, dict]:
    from prefect.runtime import flow_run

    claims = data.claims(n)
    evidence = data.evidence(n)
    del evidence[claims[-1].claim_id]  # one claim lost its evidence entry
    verdicts = [data.item_verdict(c.item_id, (0.1, 0.1, 0.8)) for c in claims]
    outcomes = {
        "evidence": validate_evidence(EvidenceRows.of(claims, evidence)),
        "outputs": validate_outputs(verdicts, [c.item_id for c in claims]),
        "batch": validate_batch(verdicts),
    }
    failed = quality_report(outcomes)
    assert failed is True
    return str(flow_run.id), outcomes


def _artifacts(flow_run_id: str) -> dict[str, str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)])
            )
        )
    return {a.key: str(a.data) for a in found if a.key}


def test_gate_tasks_publish_artifacts_and_results_are_stored(
    prefect_harness: None, home: Path, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    from storage.models import InputErrorRow, QualityResultRow
    from storage.repository import Repository

    monkeypatch.setenv("VERDICTFLOW_QUALITY__MAX_UNSUPPORTED_SHARE", "0.5")
    reset_settings()
    flow_run_id, outcomes = gates_flow(4)

    artifacts = _artifacts(flow_run_id)
    assert {
        "quality-evidence",
        "quality-outputs",
        "quality-batch",
        "quality-report",
        "quality-report-table",
    } <= set(artifacts)
    assert "## evidence: FAILED" in artifacts["quality-evidence"]
    assert "`item-3:0` (has_evidence)" in artifacts["quality-evidence"]
    assert "## batch: FAILED" in artifacts["quality-report"]
    assert "unsupported_share" in artifacts["quality-report-table"]

    # The verify run stores bad records with their rule and every result with the run.
    repo = Repository(db_url)
    repo.upgrade()
    run_id = f"quality-test-{flow_run_id}"
    repo.start_run(run_id, "verify", {}, "test")
    _, errors = coerce_items([{"id": "ok", "text": "Fine text."}, {"id": "blank", "text": "  "}])
    assert repo.save_input_errors(run_id, errors) == 1
    assert repo.save_input_errors(run_id, errors) == 0  # idempotent
    results = all_results(outcomes)
    assert repo.save_quality_results(run_id, results) == len(results)
    assert repo.save_quality_results(run_id, results) == 0
    repo.finish_run(run_id, run_status(outcomes["batch"]), {}, {})
    assert repo.get_run(run_id)["status"] == "quality_failed"
    with repo.engine.connect() as conn:
        stored = conn.execute(
            sa.select(InputErrorRow.item_id, InputErrorRow.rule, InputErrorRow.message).where(
                InputErrorRow.run_id == run_id
            )
        ).all()
        n_results = conn.execute(
            sa.select(sa.func.count()).where(QualityResultRow.run_id == run_id)
        ).scalar_one()
        failed_rules = conn.execute(
            sa.select(QualityResultRow.suite, QualityResultRow.column).where(
                QualityResultRow.run_id == run_id, QualityResultRow.success.is_(False)
            )
        ).all()
    repo.dispose()
    assert [(r.item_id, r.rule) for r in stored] == [("blank", "text")]
    assert "empty" in stored[0].message
    assert n_results == len(results)
    assert set(failed_rules) == {
        ("evidence", "claims.evidence_status"),
        ("batch", "share.unsupported"),
    }
