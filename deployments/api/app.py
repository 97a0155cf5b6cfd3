"""The warm HTTP API of ``verdictflow api``: the app, its start (models loaded once), its
guards, and the routes that say how it is (``/healthz``, ``/readyz``, ``/metrics``).

The verify, corpus and run routes live in ``routes_*.py``; every guarded route declares the
scope it needs (``auth.require``). Verification goes through ``flows.pipeline`` like the CLI's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from deployments.api import routes_corpus, routes_runs, routes_verify
from deployments.api.auth import Guard, require
from deployments.api.limits import BodyLimit, body_error_handler
from deployments.api.metrics import ApiMetrics, MetricsMiddleware
from deployments.api.warm import warm_up
from experts.mixture.microbatch import MicroBatcher
from storage import group_commit
from storage.access import AccessStore, ApiKey
from storage.repository import current_repository
from verdictflow import __version__
from verdictflow.config import Settings, get_settings

DESCRIPTION = """\
Check text against evidence, claim by claim, with the models loaded once.

Every route but `/healthz` needs an API key (`verdictflow api-key create NAME --scope ...`),
sent as `Authorization: Bearer <key>` or `X-API-Key: <key>`. Scopes: `read` (runs, verdicts,
search, readiness, metrics), `verify`, `ingest`, `admin` (all of them). A key over its rate
gets 429 with `Retry-After`; a body over the size limit gets 413.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API app. Starting it (its lifespan) migrates the database and loads the models.

    Args:
        settings: The settings in force; None: ``get_settings()``.
    """
    settings = settings or get_settings()
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        seconds = await run_in_threadpool(warm_up, settings.api.warm_up)
        for part, value in seconds.items():
            metrics.model_load.labels(part).set(value)
        app.state.load_seconds = seconds
        engine = current_repository().engine
        if settings.api.group_writes:
            group_commit.enable(engine)
        app.state.guard = Guard(AccessStore(current_repository()), settings.api)
        app.state.batcher = MicroBatcher(
            settings.api.batch_wait_ms, settings.api.batch_max_pairs, on_forward=metrics.forward
        )
        metrics.queue_depth.set_function(app.state.batcher.depth)
        app.state.ready = True
        yield
        app.state.ready = False
        app.state.batcher.close()
        group_commit.disable(engine)

    app = FastAPI(
        title="verdictflow",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served below behind a `read` key (add them to api.open_paths to open them).
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.ready = False
    # The last added runs first: metrics time everything, the body limit refuses early.
    app.add_middleware(BodyLimit, limit=settings.api.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_exception_handler(StarletteHTTPException, body_error_handler)
    app.include_router(routes_verify.router)
    app.include_router(routes_corpus.router)
    app.include_router(routes_runs.router)
    _status_routes(app)
    return app


def _database_ok() -> str | None:
    """None when the database answers, else why not."""
    try:
        with current_repository().engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any driver error means not ready
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def _status_routes(app: FastAPI) -> None:
    @app.get("/openapi.json", include_in_schema=False)
    def openapi(
        request: Request, key: Annotated[ApiKey | None, Depends(require("read"))]
    ) -> JSONResponse:
        return JSONResponse(request.app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(key: Annotated[ApiKey | None, Depends(require("read"))]) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="verdictflow API")

    @app.get("/healthz", tags=["status"], summary="The process is up (open to all)")
    def healthz() -> dict[str, str]:
        """Always 200 while the process answers; needs no key."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["status"],
        summary="Models loaded and database reachable",
        responses={503: {"description": "Not ready: models loading or database down"}},
    )
    def readyz(
        request: Request, key: Annotated[ApiKey | None, Depends(require("read"))]
    ) -> JSONResponse:
        """200 when the models are loaded and the database answers; 503 with the reason."""
        problem = _database_ok()
        ready = bool(request.app.state.ready) and problem is None
        body = {
            "ready": ready,
            "models_loaded": bool(request.app.state.ready),
            "database": problem or "ok",
            "load_seconds": getattr(request.app.state, "load_seconds", {}),
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["status"], summary="Prometheus metrics")
    def metrics(
        request: Request, key: Annotated[ApiKey | None, Depends(require("read"))]
    ) -> Response:
        """Latency by route, verdicts by label, batch sizes, expert routing, model load time."""
        payload, content_type = request.app.state.metrics.exposition()
        return Response(payload, media_type=content_type)
