"""The quality tasks in a real Prefect flow: artifacts published, results stored with the run."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
import sqlalchemy as sa
from prefect import flow

from quality.gates import quarantine_errors, run_status
from tasks.quality import (
    all_results,
    quality_report,
    validate_batch,
    validate_evidence,
    validate_inputs,
    validate_outputs,
)
from tests.quality import quality_data as data
from verdictflow.config import reset_settings
from verdictflow.contracts import Item


@flow(name="quality-gates-test")
def gates_flow(items: list[Item]) -> tuple[str, dict]:
    from prefect.runtime import flow_run

    inputs = validate_inputs(items)
    good = [i for i in items if i.id not in inputs.failed_ids]
    claims = [c for c in data.claims(len(items)) if c.item_id in {i.id for i in good}]
    evidence = validate_evidence(
        claims, {c.claim_id: data.evidence(len(items))[c.claim_id] for c in claims}
    )
    verdicts = [data.item_verdict(i.id, (0.1, 0.1, 0.8)) for i in good]
    outputs = validate_outputs(verdicts, [i.id for i in good])
    batch = validate_batch(verdicts)
    outcomes = {"inputs": inputs, "evidence": evidence, "outputs": outputs, "batch": batch}
    failed = quality_report(outcomes)
    assert failed is batch.failed
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
    items = [*data.items(3), Item(id="blank", text="  ")]
    flow_run_id, outcomes = gates_flow(items)

    artifacts = _artifacts(flow_run_id)
    assert {
        "quality-inputs",
        "quality-evidence",
        "quality-outputs",
        "quality-batch",
        "quality-report",
        "quality-report-table",
    } <= set(artifacts)
    assert "## inputs: FAILED" in artifacts["quality-inputs"]
    assert "`blank` (non_empty_text)" in artifacts["quality-inputs"]
    assert "## batch: FAILED" in artifacts["quality-report"]
    assert "unsupported_share" in artifacts["quality-report-table"]

    # The verify flow stores quarantined rows with their rule and every result with the run.
    repo = Repository(db_url)
    repo.upgrade()
    run_id = f"quality-test-{flow_run_id}"
    repo.start_run(run_id, "verify", {}, "test")
    errors = quarantine_errors(outcomes["inputs"])
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
    assert [(r.item_id, r.rule) for r in stored] == [("blank", "inputs.non_empty_text")]
    assert "blank" in stored[0].message
    assert n_results == len(results)
    assert set(failed_rules) == {("inputs", "items.text_chars"), ("batch", "share.unsupported")}
