"""Prometheus metrics of the service (one registry per app, text format at ``GET /metrics``)."""
from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST

__all__ = ["Metrics", "MetricsMiddleware", "counted", "COUNTED", "CONTENT_TYPE_LATEST"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0)


class Metrics:
    """The service's metrics in their own :class:`CollectorRegistry`.

    Attributes
    ----------
    requests : Counter
        ``aadrisk_http_requests_total{method, route, status}``
    latency : Histogram
        ``aadrisk_http_request_duration_seconds{method, route}``
    batch_requests, batch_trades : Histogram
        Requests and trades per ``greek_vectors`` evaluation.
    batch_seconds : Histogram
        Duration of an evaluation (worker thread).
    inflight : Gauge
        Requests being handled.
    active : int
        The same count as a plain number (read by the background warm-up).
    last_end : float
        ``time.monotonic()`` when the last request ended.
    """

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("aadrisk_http_requests", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("aadrisk_http_request_duration_seconds",
                                 "HTTP request latency", ["method", "route"],
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_requests = Histogram("aadrisk_batch_requests", "Requests merged per evaluation",
                                        buckets=(1, 2, 4, 8, 16, 32, 64, 128), registry=r)
        self.batch_trades = Histogram("aadrisk_batch_trades", "Trades per evaluation",
                                      buckets=(1, 10, 100, 1_000, 10_000, 100_000), registry=r)
        self.batch_seconds = Histogram("aadrisk_batch_duration_seconds",
                                       "Duration of one greek_vectors evaluation",
                                       buckets=_LATENCY_BUCKETS, registry=r)
        self.inflight = Gauge("aadrisk_http_requests_in_flight", "Requests being handled",
                              registry=r)
        self.active = 0
        self.last_end = time.monotonic()

    def quiet_for(self) -> float:
        """Seconds since the last request ended with none in flight (0 while one is)."""
        return 0.0 if self.active else time.monotonic() - self.last_end

    def render(self) -> bytes:
        """The Prometheus text exposition of the registry."""
        return generate_latest(self.registry)


#: ``scope`` key set by the risk lane on a request it counts itself (the middleware
#: then passes it through, not counting it twice)
COUNTED = "aadrisk.counted"


async def counted(metrics: Metrics, app, scope, receive, send, route: str | None = None):
    """``await app(scope, receive, send)``, counted and timed in ``metrics`` under its route
    (``route``, or the matched template ``scope["route"].path``, else ``"unmatched"``) and
    the status of its answer (500 if none was sent)."""
    status = 500

    async def send_wrapper(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    start = time.perf_counter()
    metrics.inflight.inc()
    metrics.active += 1
    try:
        await app(scope, receive, send_wrapper)
    finally:
        metrics.active -= 1
        metrics.last_end = time.monotonic()
        metrics.inflight.dec()
        path = route or getattr(scope.get("route"), "path", None) or "unmatched"
        method = scope.get("method", "")
        metrics.requests.labels(method, path, str(status)).inc()
        metrics.latency.labels(method, path).observe(time.perf_counter() - start)


class MetricsMiddleware:
    """ASGI middleware counting requests and timing them by route template.

    The route is the matched path template (``/v1/markets/{market_id}``), so
    ids do not explode the label set; unmatched paths count as ``"unmatched"``.
    A request the risk lane already counts (``scope[COUNTED]``) passes through.
    """

    def __init__(self, app, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get(COUNTED):
            await self.app(scope, receive, send)
            return
        await counted(self.metrics, self.app, scope, receive, send)
