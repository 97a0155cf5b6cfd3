"""Limits of the HTTP API: the size of a request body (413), a rate per key (429), a body
that is not said to be JSON (415), and a body that cannot be parsed at all (400, naming why)."""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any

from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

Scope = dict[str, Any]
ASGIApp = Any


def _too_large(limit: int, size: int | None) -> bytes:
    said = f"{size:,} bytes" if size is not None else "more bytes"
    detail = f"request body has {said}; the limit is {limit:,} bytes (api.max_body_bytes)"
    return json.dumps({"detail": detail}).encode()


class BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes, by its Content-Length or, for a
    chunked body, as soon as the bytes read pass the limit.

    Args:
        app: The application it wraps.
        limit: Most bytes a request body may have.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """Refuse large bodies; pass everything else to the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send, int(declared))
            return
        read = 0
        started = False
        refused = False

        async def limited_receive() -> dict:
            # Past the limit: answer 413 now and tell the app the client has gone (it stops
            # reading; whatever it then tries to answer is dropped).
            nonlocal read, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.limit:
                    refused = True
                    if not started:
                        await self._refuse(send, None)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited_receive, tracking_send)

    async def _refuse(self, send: Any, size: int | None) -> None:
        body = _too_large(self.limit, size)
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """A token bucket per key: ``rate`` requests a second sustained, ``burst`` at once.

    Buckets live in this process (``verdictflow api`` runs one process).
    """

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one token of ``key``'s bucket: 0.0 when allowed, else the seconds until a
        token is back (the Retry-After)."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


def is_json_media_type(content_type: str | None) -> bool:
    """Whether a Content-Type says JSON (``application/json`` or ``application/...+json``), as
    FastAPI decides whether to parse a body."""
    media = (content_type or "").split(";")[0].strip().lower()
    main, _, sub = media.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def require_json(request: Request) -> None:
    """A dependency of the routes that take a JSON body: 415 naming what was sent unless the
    request says its body is JSON (FastAPI would read any other body as bytes and answer "Input
    should be a valid dictionary")."""
    content_type = request.headers.get("content-type")
    if is_json_media_type(content_type):
        return
    said = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
    raise HTTPException(
        415,
        f"the request body must be JSON, sent with Content-Type: application/json (got {said})",
    )


def retry_after(wait_s: float) -> str:
    """A Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait_s)))


async def body_error_handler(request: Request, exc: HTTPException) -> Response:
    """FastAPI's HTTPException handler, with a body it could not parse named: invalid UTF-8
    (where and which byte) or JSON nested too deeply, both 400, instead of "There was an
    error parsing the body". Every other HTTPException is answered as FastAPI does."""
    cause = exc.__cause__
    if exc.status_code != 400 or not isinstance(cause, UnicodeDecodeError | RecursionError):
        return await http_exception_handler(request, exc)
    if isinstance(cause, UnicodeDecodeError):
        byte = cause.object[cause.start : cause.start + 1].hex()
        detail = (
            f"request body is not valid UTF-8: byte 0x{byte} at position {cause.start} "
            "(send the JSON body encoded as UTF-8)"
        )
    else:
        detail = "request body: the JSON is nested too deeply to parse"
    return JSONResponse({"detail": detail}, status_code=400)
