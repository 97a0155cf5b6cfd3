"""The corpus over HTTP: ``POST /v1/documents`` (the ingest flow) and ``GET /v1/search``."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from deployments.api.auth import require
from deployments.api.limits import require_json
from deployments.api.schemas import UNSUPPORTED_MEDIA, DocumentsRequest, IngestResponse
from retrieval.search import MODES, SearchHit, search
from retrieval.store import COLUMN_FILTERS
from storage.access import ApiKey

router = APIRouter(prefix="/v1", tags=["corpus"])


@router.post(
    "/documents",
    summary="Add or update documents",
    response_model=IngestResponse,
    responses={
        413: {"description": "Too many documents or too large a body"},
        415: UNSUPPORTED_MEDIA,
    },
)
def add_documents(
    request: Request,
    body: DocumentsRequest,
    key: Annotated[ApiKey | None, Depends(require("ingest"))],
    _json: Annotated[None, Depends(require_json)],
) -> IngestResponse:
    """Ingest documents through the ingest flow, as `verdictflow ingest` does: only new and
    changed ones are embedded, each change is recorded and emitted as a
    `verdictflow.document.changed` event (which re-verifies the items that cited it).

    The documents are kept as a JSONL file under `VERDICTFLOW_HOME/api/documents` (named by
    their digest: sending the same documents again changes nothing)."""
    from flows.ingest import ingest_documents

    settings = request.app.state.settings
    limit = settings.api.max_documents
    if len(body.documents) > limit:
        raise HTTPException(
            413, f"{len(body.documents)} documents; at most {limit} per request (api.max_documents)"
        )
    rows = [{"id": d.id, "text": d.text, **d.metadata} for d in body.documents]
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    folder = settings.home.resolve() / "api" / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(lines.encode()).hexdigest()[:24]}.jsonl"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(lines, encoding="utf-8")
        tmp.replace(path)
    result = ingest_documents([str(path)], text_column="text", id_column="id")
    request.app.state.guard.store.audit(
        "ingest",
        key.key_id if key else None,
        result["run_id"],
        200,
        {"documents": [d.id for d in body.documents][:limit], "counts": result["counts"]},
    )
    return IngestResponse(
        run_id=result["run_id"],
        counts=result["counts"],
        failures=result["failures"],
        changes=result["changes"],
    )


def _filters(raw: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` query values as a search filter (as ``verdictflow search --filter``)."""
    filters: dict[str, Any] = {}
    for item in raw:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise HTTPException(422, f"query 'filter': {item!r} is not KEY=VALUE")
        name = name.strip()
        parsed: Any = value
        if name not in COLUMN_FILTERS and value.lstrip("-").isdigit():
            parsed = int(value)
        old = filters.get(name)
        if old is None:
            filters[name] = parsed
        else:
            filters[name] = [*old, parsed] if isinstance(old, list) else [old, parsed]
    return filters


@router.get("/search", summary="Search the corpus", response_model=list[SearchHit])
def search_corpus(
    key: Annotated[ApiKey | None, Depends(require("read"))],
    q: Annotated[str, Query(min_length=1, max_length=10_000, description="What to look for.")],
    k: Annotated[int | None, Query(ge=1, le=100, description="Hits; default top_k.")] = None,
    mode: Annotated[str | None, Query(description=f"One of {', '.join(MODES)}.")] = None,
    filter_: Annotated[list[str], Query(alias="filter", description="KEY=VALUE, repeatable.")] = (),  # type: ignore[assignment]
) -> list[SearchHit]:
    """Hybrid (default), vector or full-text search, with filters on source, domain, doc_id
    or a metadata key."""
    if mode is not None and mode not in MODES:
        raise HTTPException(422, f"query 'mode': {mode!r} is not one of {list(MODES)}")
    try:
        return search(q, k=k, mode=mode, filters=_filters(list(filter_)))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
