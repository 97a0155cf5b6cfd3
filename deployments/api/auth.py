"""Who may call the API: a key (401 without one), its scopes (403 outside them), its rate
(429 with Retry-After). Keys are checked against their hashes in the database
(``storage.access``); nothing is open except ``api.open_paths`` (``/healthz``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from deployments.api.limits import RateLimiter, retry_after
from storage.access import AccessStore, ApiKey
from verdictflow.config import ApiSettings

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer vf_...`")
header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: vf_...`")


class Guard:
    """Checks keys (with a short cache), scopes and rates for every guarded route.

    Args:
        store: Where keys are kept.
        settings: The API settings (rate, burst, cache time, open paths).
    """

    def __init__(self, store: AccessStore, settings: ApiSettings) -> None:
        self.store = store
        self.open_paths = frozenset(settings.open_paths)
        self.cache_s = settings.key_cache_s
        self.limiter = RateLimiter(settings.rate_per_s, settings.rate_burst)
        self._cache: dict[str, tuple[ApiKey | None, float]] = {}
        self._lock = threading.Lock()

    def _lookup(self, secret: str) -> ApiKey | None:
        now = time.monotonic()
        if self.cache_s > 0:
            with self._lock:
                hit = self._cache.get(secret)
            if hit is not None and now - hit[1] < self.cache_s:
                return hit[0]
        key = self.store.check_key(secret)
        if self.cache_s > 0:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[secret] = (key, now)
        return key

    def check(self, request: Request, secret: str | None, scope: str) -> ApiKey | None:
        """The caller's key once it may use ``scope`` now; raises 401, 403 or 429.

        Returns None on an open path (``api.open_paths``)."""
        if request.url.path in self.open_paths:
            return None
        if not secret:
            raise HTTPException(
                401,
                "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key = self._lookup(secret)
        if key is None:
            raise HTTPException(
                401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
            )
        if not key.allows(scope):
            raise HTTPException(
                403, f"key {key.key_id} lacks scope {scope!r} (it has {', '.join(key.scopes)})"
            )
        wait = self.limiter.take(key.key_id)
        if wait > 0:
            raise HTTPException(
                429,
                f"key {key.key_id} is over its rate limit; retry in {wait:.2f} s",
                headers={"Retry-After": retry_after(wait)},
            )
        request.state.key_id = key.key_id
        return key


def require(scope: str) -> Callable[..., ApiKey | None]:
    """A dependency that lets a request through only with a key holding ``scope``."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        api_key: Annotated[str | None, Depends(header_key)],
    ) -> ApiKey | None:
        secret = credentials.credentials if credentials is not None else api_key
        return request.app.state.guard.check(request, secret, scope)

    dependency.__name__ = f"require_{scope}"
    return dependency
