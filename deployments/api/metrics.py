"""Prometheus metrics of the HTTP API (``GET /metrics``), on a registry of the app's own."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ApiMetrics:
    """The API's counters, gauges and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram(
            "verdictflow_api_request_seconds",
            "Time to answer a request, by route template, method and status.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "verdictflow_api_requests_in_flight", "Requests being answered now.", registry=r
        )
        self.verdicts = Counter(
            "verdictflow_api_verdicts_total",
            "Item verdicts returned, by label.",
            ["label"],
            registry=r,
        )
        self.input_errors = Counter(
            "verdictflow_api_input_errors_total", "Rows refused, by rule.", ["rule"], registry=r
        )
        self.batch_items = Histogram(
            "verdictflow_api_batch_items",
            "Items per POST /v1/verify.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.expert_pairs = Counter(
            "verdictflow_api_expert_pairs_total",
            "(claim, evidence) pairs each expert scored (the gate's routing).",
            ["expert"],
            registry=r,
        )
        self.forward_pairs = Histogram(
            "verdictflow_api_forward_pairs",
            "Pairs per micro-batched forward pass, by expert.",
            ["expert"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.forward_requests = Histogram(
            "verdictflow_api_forward_requests",
            "Requests whose pairs shared one micro-batched forward pass.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "verdictflow_api_batch_queue_depth",
            "Requests' batches waiting for the micro-batcher.",
            registry=r,
        )
        self.model_load = Gauge(
            "verdictflow_api_model_load_seconds",
            "Time the experts and the embedder took to load at start, by part.",
            ["part"],
            registry=r,
        )
        self.denied = Counter(
            "verdictflow_api_denied_total",
            "Requests refused by the guards (401, 403, 413, 429).",
            ["status"],
            registry=r,
        )

    def forward(self, expert: str, pairs: int, requests: int) -> None:
        """A micro-batched forward pass: ``pairs`` of ``requests`` requests for ``expert``."""
        self.forward_pairs.labels(expert).observe(pairs)
        self.forward_requests.observe(requests)

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in the Prometheus text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """ASGI middleware: times every request by its route template (not its path: ids would
    make one series per run)."""

    def __init__(self, app: Any, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Time the request; count it under its route, method and status."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def tracking_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        started = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, tracking_send)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            code = status["code"]
            self.metrics.latency.labels(template, scope.get("method", ""), str(code)).observe(
                time.perf_counter() - started
            )
            if code in (401, 403, 413, 429):
                self.metrics.denied.labels(str(code)).inc()
