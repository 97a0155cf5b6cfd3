"""Request and response bodies of the HTTP API, with the examples OpenAPI shows.

Items keep the CLI's row contract: in, ``{"id", "text", "context"?, "question"?,
"metadata"?, "label"?}`` (any other field is a row error, rule ``unknown_field``); out, the rows
``verdictflow verify`` writes (``verdictflow.verdicts.output_row``). Items arrive as plain JSON
objects so that a bad one is reported with its rule, next to the verdicts of the good ones,
instead of failing the whole request. Every body is JSON sent with ``Content-Type:
application/json`` (else 415).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

FJELL = "The Fjell S1 is rated IP67. It plays for up to 20 hours on a charge."
# The top-level fields of a batch request to POST /v1/verify (other fields: 422).
VERIFY_FIELDS = ("items",)
UNSUPPORTED_MEDIA = {"description": "The body is not sent as Content-Type: application/json"}

VERIFY_EXAMPLES = {
    "batch": {
        "summary": "Items with and without their own context",
        "value": {
            "items": [
                {"id": "a1", "text": "The Fjell S1 plays for 30 hours.", "context": FJELL},
                {"id": "a2", "text": "The Fjell S1 speaker is rated IP67."},
            ]
        },
    },
    "one": {
        "summary": "One item",
        "value": {"id": "a1", "text": "The Fjell S1 is rated IP67.", "context": FJELL},
    },
}


class RowError(BaseModel):
    """A row that could not be checked: its position (1-based), its id and the rule it broke."""

    line: int | None = Field(description="1-based position of the row in `items`.")
    item_id: str | None
    rule: str
    message: str


class VerifyResponse(BaseModel):
    """A verify run: a verdict row per good item, an error per bad one."""

    run_id: str
    status: str
    counts: dict[str, Any]
    verdicts: list[dict[str, Any]] = Field(
        description="The CLI's output rows: id, verdict, p_supported, claims, run_id."
    )
    errors: list[RowError]
    warnings: list[str] = Field(
        default_factory=list,
        description="What else the run should know, in plain words (e.g. no document is "
        "ingested, so items without their own context had no evidence).",
    )


class DocumentIn(BaseModel):
    """A document of the corpus."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=500)
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class DocumentsRequest(BaseModel):
    """Documents to add to the corpus (or to update: the same id with new text)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"documents": [{"id": "fjell-s1", "text": FJELL, "metadata": {"domain": "specs"}}]}
            ]
        },
    )

    documents: list[DocumentIn] = Field(min_length=1)


class IngestResponse(BaseModel):
    """What an ingest run did: counts of new, changed, unchanged, failed documents."""

    run_id: str
    counts: dict[str, Any]
    failures: list[dict[str, Any]]
    changes: list[dict[str, Any]]


class RunOut(BaseModel):
    """A stored run."""

    run_id: str
    kind: str
    status: str
    counts: dict[str, Any]
    parameters: dict[str, Any]
    started_at: datetime | None
    finished_at: datetime | None
    parent_run_id: str | None = None
    prefect_flow_run_id: str | None = None


class RunDetail(RunOut):
    """A run with its verdict rows and its refused rows."""

    verdicts: list[dict[str, Any]]
    errors: list[RowError]


class VerdictHistoryEntry(BaseModel):
    """One item's verdict in one run."""

    run_id: str
    item_id: str
    label: str
    p_supported: float
    n_claims: int
    started_at: datetime | None
    run_status: str


class JobRequest(BaseModel):
    """A large batch for the ``verify-dataset`` deployment: a dataset the workers can read."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"dataset": {"path": "/data/records.parquet"}}]},
    )

    dataset: dict[str, Any] = Field(
        description="The deployment's `dataset` parameter (flows.verify_dataset.DatasetSource)."
    )


class JobOut(BaseModel):
    """A flow run of the jobs deployment."""

    flow_run_id: str
    deployment: str
    state: str | None = None
    message: str | None = None
    run_ids: list[str] = Field(
        default_factory=list,
        description="The verify runs the job stored (read them with GET /v1/runs/{id}).",
    )
