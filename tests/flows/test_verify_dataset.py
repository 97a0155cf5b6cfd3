"""The verify-dataset flow in a real Prefect run: what the run the user started shows."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from verdictflow.config import reset_settings

FJELL = (
    "The Fjell S1 is a portable Bluetooth speaker rated IP67. It weighs 1.1 kilograms and plays "
    "for up to 20 hours on a charge. It charges over USB-C in about 3 hours."
)
# A labelled dataset whose records bring their own evidence in a `context` column.
RECORDS = [
    {
        "id": "true-1",
        "text": "The Fjell S1 plays for up to 20 hours on a charge.",
        "context": FJELL,
        "label": "supported",
    },
    {
        "id": "num-1",
        "text": "The Fjell S1 plays for up to 30 hours on a charge.",
        "context": FJELL,
        "label": "contradicted",
    },
    {
        "id": "two-claims",
        "text": "The Fjell S1 is rated IP67. It weighs 2.5 kilograms.",
        "context": FJELL,
        "label": "contradicted",
    },
]


@pytest.fixture(scope="module")
def dataset_run(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One verify-dataset run of a labelled JSONL file with a `context` column and a bad line,
    no context column given (a fresh home, in-process expert batches)."""
    from flows.verify_dataset import DatasetSource, verify_dataset

    tmp = tmp_path_factory.mktemp("verify-dataset")
    path = tmp / "labelled.jsonl"
    lines = [json.dumps(r) for r in RECORDS]
    path.write_text("\n".join([*lines, "{broken"]) + "\n", encoding="utf-8")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("VERDICTFLOW_HOME", str(tmp / "home"))
            patch.setenv("VERDICTFLOW_DASK__USE_DASK", "false")
            reset_settings()
            yield verify_dataset(DatasetSource(path=str(path)), return_state=True)
    finally:
        reset_settings()  # settings from the restored environment


def _flow_run_artifacts(flow_run_id: UUID) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


def _subflow_run_ids(flow_run_id: UUID) -> list[UUID]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])
            )
        )
    return [run.id for run in runs]


def _png(markdown: str) -> bytes:
    found = re.search(r"\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert found, markdown[:300]
    return base64.b64decode(found.group(1))


def test_a_dataset_context_column_is_the_evidence_when_no_column_is_given(dataset_run):
    result = dataset_run.result()
    assert {v.item_id for v in result.verdicts} == {r["id"] for r in RECORDS}
    evidence = [e for v in result.verdicts for c in v.claims for e in c.evidence]
    assert evidence and {e.origin for e in evidence} == {"context"}


def test_the_run_the_user_started_carries_the_verdict_table(dataset_run):
    by_key = {a.key: a for a in _flow_run_artifacts(dataset_run.state_details.flow_run_id)}
    table = by_key["verify-summary"]
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert {row["item"] for row in rows} == {r["id"] for r in RECORDS}
    assert "1 input error" in table.description


def test_plots_of_p_supported_and_reliability_are_artifacts(dataset_run):
    by_key = {a.key: a for a in _flow_run_artifacts(dataset_run.state_details.flow_run_id)}
    # PNG images inlined in Markdown, with their figures as a table.
    histogram = str(by_key["verify-p-supported"].data)
    assert _png(histogram).startswith(b"\x89PNG")
    assert "| contradicted | 2 |" in histogram
    reliability = str(by_key["verify-reliability"].data)
    assert _png(reliability).startswith(b"\x89PNG")
    assert "3 labelled verdicts, ECE" in reliability
    # The verify-items subflow finds the gold labels among its stored items.
    [subflow] = _subflow_run_ids(dataset_run.state_details.flow_run_id)
    assert {"verify-p-supported", "verify-reliability"} <= {
        a.key for a in _flow_run_artifacts(subflow)
    }


def test_progress_says_what_was_done_on_the_run_and_its_subflow(dataset_run):
    flow_run_id = dataset_run.state_details.flow_run_id
    [subflow] = _subflow_run_ids(flow_run_id)
    for run_id in (flow_run_id, subflow):
        [progress] = [a for a in _flow_run_artifacts(run_id) if a.type == "progress"]
        assert progress.data == 100.0
        assert "3 items, 4 claims verified: " in progress.description, progress.description
        assert "2 contradicted" in progress.description
