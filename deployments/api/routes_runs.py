"""What storage holds, over HTTP: runs, a run's verdicts, an item's verdict history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from deployments.api.auth import require
from deployments.api.schemas import RunDetail, RunOut, VerdictHistoryEntry
from storage.access import ApiKey
from storage.history import item_verdict_history
from storage.models import RUN_KINDS
from storage.repository import current_repository
from verdictflow.verdicts import output_row

router = APIRouter(prefix="/v1", tags=["runs"])

Reader = Annotated[ApiKey | None, Depends(require("read"))]


def _limit(request: Request, limit: int) -> int:
    return min(limit, request.app.state.settings.api.max_page)


def _storable(value: str) -> bool:
    """Whether an id could be stored at all: no NUL (PostgreSQL refuses it in a query, a 500
    otherwise), valid Unicode. Stored ids never hold either (``storage.rows.clean``)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@router.get("/runs", summary="Recent runs", response_model=list[RunOut])
def list_runs(
    request: Request,
    key: Reader,
    limit: Annotated[int, Query(ge=1, description="How many (at most api.max_page).")] = 20,
    kind: Annotated[str | None, Query(description=f"One of {', '.join(RUN_KINDS)}.")] = None,
) -> list[RunOut]:
    """The newest runs first, with their counts."""
    if kind is not None and kind not in RUN_KINDS:
        raise HTTPException(422, f"query 'kind': {kind!r} is not one of {list(RUN_KINDS)}")
    runs = current_repository().list_runs(limit=_limit(request, limit), kind=kind)
    return [RunOut(**r) for r in runs]


@router.get(
    "/runs/{run_id}",
    summary="A run with its verdicts",
    response_model=RunDetail,
    responses={404: {"description": "No such run"}},
)
def get_run(run_id: str, key: Reader) -> RunDetail:
    """A run, the verdict rows it stored (as `verdictflow verify` prints them) and the rows it
    refused, each with its rule."""
    repo = current_repository()
    run = repo.get_run(run_id) if _storable(run_id) else None
    if run is None:
        raise HTTPException(404, f"no run {run_id!r}")
    verdicts = [output_row(v, run_id) for v in repo.load_item_verdicts(run_id)]
    errors = [e.model_dump() for e in repo.load_input_errors(run_id)]
    return RunDetail(**run, verdicts=verdicts, errors=errors)


@router.get(
    "/items/{item_id:path}/verdicts",
    summary="An item's verdicts across runs",
    response_model=list[VerdictHistoryEntry],
    responses={404: {"description": "No verdict on this item"}},
)
def item_verdicts(
    request: Request,
    item_id: str,
    key: Reader,
    limit: Annotated[int, Query(ge=1, description="How many (at most api.max_page).")] = 50,
) -> list[VerdictHistoryEntry]:
    """Every stored verdict on the item, newest run first: its history across reprocessing."""
    history = (
        item_verdict_history(current_repository(), item_id, _limit(request, limit))
        if _storable(item_id)
        else []
    )
    if not history:
        raise HTTPException(404, f"no verdict on item {item_id!r}")
    return [VerdictHistoryEntry(**h) for h in history]
