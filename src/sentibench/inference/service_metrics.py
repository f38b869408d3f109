"""The service's Prometheus metrics (GET /metrics, the text format, via prometheus-client).

    sentibench_requests_total{endpoint, status}   requests answered, by HTTP status
    sentibench_request_seconds{endpoint}           latency, arrival to the last byte sent
    sentibench_batch_texts                         texts per forward pass of the model
    sentibench_queue_depth                         requests waiting for the model

Each app has its own registry (tests build many apps in one process). With several worker
processes (serve --workers N) prometheus-client's multiprocess mode is on: server.py sets
PROMETHEUS_MULTIPROC_DIR before the workers start, each process writes its values to files
there, and a scrape, whichever worker answers it, adds up every process.
"""

from __future__ import annotations

import os
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
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# From a NB-SVM answer (milliseconds) to a transformer batch under load (seconds).
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class ServiceMetrics:
    def __init__(self, endpoints: tuple[str, ...]) -> None:
        self.endpoints = frozenset(endpoints)  # other paths share one label: bounded series
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sentibench_requests", "Requests answered, by endpoint and HTTP status.",
            ["endpoint", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "sentibench_request_seconds", "Seconds from a request's arrival to its answer.",
            ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.batch_texts = Histogram(
            "sentibench_batch_texts", "Texts per forward pass of the model.",
            buckets=BATCH_BUCKETS, registry=self.registry,
        )  # fmt: skip
        # livesum: the workers' queues add up, and a stopped worker's queue drops out.
        self.queue_depth = Gauge(
            "sentibench_queue_depth", "Requests waiting for the model.",
            multiprocess_mode="livesum", registry=self.registry,
        )  # fmt: skip

    def endpoint(self, path: str) -> str:
        return path if path in self.endpoints else "other"

    def observe(self, path: str, status: int, seconds: float) -> None:
        endpoint = self.endpoint(path)
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of a scrape: this process, or every worker process."""
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    @staticmethod
    def process_stopped() -> None:
        """A worker process ends: its live gauges (the queue depth) stop counting."""
        if os.environ.get(MULTIPROC_ENV):
            mark_process_dead(os.getpid())


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware: it costs a task per request): the status and the
    latency of every HTTP request, errors included (a handler that raises counts as 500)."""

    def __init__(self, app: Any, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.observe(scope["path"], status, time.perf_counter() - started)
