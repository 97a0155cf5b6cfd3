"""``POST /v1/verify`` (a few items, answered now) and ``/v1/jobs`` (a large batch, handed to
the ``verify-dataset`` deployment through Prefect)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from deployments.api.auth import require
from deployments.api.limits import require_json
from deployments.api.schemas import (
    UNSUPPORTED_MEDIA,
    VERIFY_EXAMPLES,
    VERIFY_FIELDS,
    JobOut,
    JobRequest,
    VerifyResponse,
)
from flows.pipeline import Inline, VerifyResult, verify_pipeline
from flows.run_warnings import with_warnings
from storage.access import ApiKey
from storage.repository import current_repository
from verdictflow.verdicts import output_row

router = APIRouter(prefix="/v1")


def _records(payload: dict[str, Any], limit: int) -> list[Any]:
    """The rows of a request: ``{"items": [...]}``, or one item object (whose fields the
    pipeline checks row by row). A batch with other top-level fields is a 422 naming them."""
    if "items" in payload:
        unknown = [k for k in payload if k not in VERIFY_FIELDS]
        if unknown:
            raise RequestValidationError(
                [
                    {
                        "type": "extra_forbidden",
                        "loc": ("body", key),
                        "msg": f'unknown field {key!r}: a request is {{"items": [...]}} or '
                        "one item object (put other values in each item's 'metadata')",
                        "input": payload[key],
                    }
                    for key in unknown
                ]
            )
    records = payload.get("items", [payload])
    if not isinstance(records, list):
        raise HTTPException(422, "field 'items' must be a list of item objects")
    if not records:
        raise HTTPException(422, "field 'items' is empty: send at least one item")
    if len(records) > limit:
        raise HTTPException(
            413,
            f"field 'items' has {len(records)} items; at most {limit} per request "
            "(api.max_batch_items): send larger batches to POST /v1/jobs",
        )
    return records


def _record_metrics(request: Request, result: VerifyResult, n: int) -> None:
    metrics = request.app.state.metrics
    metrics.batch_items.observe(n)
    for verdict in result.verdicts:
        metrics.verdicts.labels(verdict.label.value).inc()
    for error in result.errors:
        metrics.input_errors.labels(error.rule).inc()
    for expert, pairs in result.routing.items():
        metrics.expert_pairs.labels(expert).inc(pairs)


@router.post(
    "/verify",
    tags=["verify"],
    summary="Verify one item or a small batch",
    response_model=VerifyResponse,
    responses={
        413: {"description": "Body or batch over the limits"},
        415: UNSUPPORTED_MEDIA,
        422: {"description": "Not an item object, or no item could be checked"},
    },
)
def verify(
    request: Request,
    payload: Annotated[dict[str, Any], Body(openapi_examples=VERIFY_EXAMPLES)],
    key: Annotated[ApiKey | None, Depends(require("verify"))],
    _json: Annotated[None, Depends(require_json)],
    quality: Annotated[
        bool, Query(description="Also run the batch quality checks (Great Expectations).")
    ] = False,
) -> Any:
    """Verify items (the CLI's input rows, with or without `context`) now, in this process,
    through the pipeline the CLI runs; the run and its verdicts are stored as the CLI's are.
    Concurrent requests' pairs are scored together (micro-batching).

    Bad rows come back in `errors`, each with its position, id and rule; the good rows are
    checked. When no row can be checked the answer is 422, with the same body. With
    `quality=true` the run's batch checks run too (its `status` says whether they passed).
    An item field other than `id`, `text`, `context`, `question`, `metadata` and `label` is
    a row error (rule `unknown_field`); an item over `verify.max_claims_per_item` claims too
    (rule `max_claims`). `warnings` says plainly what else the run should know (items
    checked against an empty corpus)."""
    settings = request.app.state.settings
    batcher = request.app.state.batcher
    with batcher.caller():
        records = _records(payload, settings.api.max_batch_items)
        result = verify_pipeline(Inline(batcher, batch_quality=quality), items=records)
    result = with_warnings(result)
    body = VerifyResponse(
        run_id=result.run_id,
        status=result.status,
        counts=result.counts,
        verdicts=[output_row(v, result.run_id) for v in result.verdicts],
        errors=[e.model_dump() for e in result.errors],
        warnings=result.counts.get("warnings", []),
    )
    status = 200 if result.verdicts else 422
    _record_metrics(request, result, len(records))
    request.app.state.guard.store.audit(
        "verify",
        key.key_id if key else None,
        result.run_id,
        status,
        {
            "items": [v.item_id for v in result.verdicts],
            "errors": len(result.errors),
            "counts": result.counts,
        },
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


@router.post(
    "/jobs",
    tags=["jobs"],
    summary="Verify a large batch as a flow run",
    response_model=JobOut,
    status_code=202,
    responses={
        415: UNSUPPORTED_MEDIA,
        503: {"description": "Prefect or the deployment cannot be reached"},
    },
)
def start_job(
    request: Request,
    job: JobRequest,
    key: Annotated[ApiKey | None, Depends(require("verify"))],
    _json: Annotated[None, Depends(require_json)],
) -> JobOut:
    """Start the `verify-dataset` deployment (`api.jobs_deployment`) on a dataset the workers
    can read; returns the Prefect flow-run id to poll with `GET /v1/jobs/{id}`."""
    from prefect.deployments import run_deployment

    name = request.app.state.settings.api.jobs_deployment
    try:
        flow_run = run_deployment(name=name, parameters={"dataset": job.dataset}, timeout=0)
    except Exception as exc:  # unreachable API, unknown deployment: the caller cannot fix
        raise HTTPException(503, f"cannot start deployment {name!r}: {exc}") from exc
    request.app.state.guard.store.audit(
        "job", key.key_id if key else None, str(flow_run.id), 202, {"dataset": job.dataset}
    )
    state = flow_run.state.name if flow_run.state else None
    return JobOut(flow_run_id=str(flow_run.id), deployment=name, state=state)


@router.get(
    "/jobs/{flow_run_id}",
    tags=["jobs"],
    summary="A job's state",
    response_model=JobOut,
    responses={404: {"description": "No such flow run"}},
)
def get_job(
    request: Request,
    flow_run_id: str,
    key: Annotated[ApiKey | None, Depends(require("read"))],
) -> JobOut:
    """The Prefect state of a job and the verify runs it stored (`GET /v1/runs/{id}`)."""
    import uuid

    from prefect import get_client

    try:
        run_uuid = uuid.UUID(flow_run_id)
    except ValueError as exc:
        raise HTTPException(422, f"job id {flow_run_id!r} is not a flow-run UUID") from exc
    try:
        with get_client(sync_client=True) as client:
            flow_run = client.read_flow_run(run_uuid)
    except Exception as exc:
        if "404" in str(exc) or type(exc).__name__ == "ObjectNotFound":
            raise HTTPException(404, f"no job {flow_run_id}") from exc
        raise HTTPException(503, f"cannot read job {flow_run_id}: {exc}") from exc
    runs = current_repository().list_runs(limit=100, prefect_flow_run_id=flow_run_id)
    return JobOut(
        flow_run_id=flow_run_id,
        deployment=request.app.state.settings.api.jobs_deployment,
        state=flow_run.state.name if flow_run.state else None,
        message=flow_run.state.message if flow_run.state else None,
        run_ids=[r["run_id"] for r in runs],
    )
