"""Prometheus metrics of the HTTP API: requests by method, full route template and status, latency, DB pool.

Beside them, the process's probe, recorder and background-job figures (:mod:`vigil.core.telemetry`).

A pure ASGI layer (no BaseHTTPMiddleware), installed just outside the problem+json handlers and the
catch-all 500, so every answer is counted, 500s included. The ``route`` label is the full template
(``/api/v1/cameras/{camera_id}``, router prefix included); a path that matched no route counts as
``unmatched``, so the label set stays bounded whatever clients send.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.core.telemetry import telemetry

__all__ = ["HttpMetrics", "full_templates", "install"]

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def full_templates(app: FastAPI) -> dict[int, str]:
    """``id(route) -> full path template`` for every route of ``app`` (prefixes of included routers too)."""
    out: dict[int, str] = {}
    for ctx in iter_route_contexts(app.router.routes):
        path = ctx.path_format or ctx.path
        if path is not None:
            out.setdefault(id(ctx.original_route), path)
    return out


class HttpMetrics:
    """Count and time every HTTP request."""

    def __init__(self, app: ASGIApp, *, fastapi: FastAPI, registry: CollectorRegistry) -> None:
        self.app, self.fastapi = app, fastapi
        self.requests = Counter("vigil_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=registry)
        self.latency = Histogram("vigil_http_request_seconds", "HTTP request latency",
                                 ["method", "route"], buckets=_BUCKETS, registry=registry)
        self._templates: dict[int, str] | None = None

    def _route(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return "unmatched"
        if self._templates is None:  # routes are all included once the app serves
            self._templates = full_templates(self.fastapi)
        return self._templates.get(id(route)) or str(getattr(route, "path", "unmatched"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            route, method = self._route(scope), scope["method"]
            self.requests.labels(method, route, str(status)).inc()
            self.latency.labels(method, route).observe(time.perf_counter() - t0)


def pool_gauges(engine: Engine, registry: CollectorRegistry) -> None:
    """Database pool figures, read when scraped: connections in use, pool size and overflow allowed."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return
    in_use = Gauge("vigil_db_pool_in_use", "database connections checked out", registry=registry)
    in_use.set_function(pool.checkedout)
    capacity = Gauge("vigil_db_pool_capacity", "most connections the pool hands out (size + overflow)",
                     registry=registry)
    capacity.set_function(lambda: pool.size() + pool._max_overflow)  # noqa: SLF001 (no public getter)
    saturation = Gauge("vigil_db_pool_saturation", "share of the pool's connections in use (1 = exhausted)",
                       registry=registry)
    saturation.set_function(lambda: pool.checkedout() / max(1, pool.size() + pool._max_overflow))  # noqa: SLF001


class _Domain(Collector):
    """The process's probe, recorder and job figures (:mod:`vigil.core.telemetry`), read when scraped."""

    def collect(self) -> Iterable[Metric]:
        return telemetry().registry.collect()


def install(app: FastAPI, engine: Engine) -> CollectorRegistry:
    """Add the metrics layer to ``app``; returns the registry ``/metrics`` serves (HTTP, pool and domain)."""
    registry = CollectorRegistry()
    app.add_middleware(HttpMetrics, fastapi=app, registry=registry)
    pool_gauges(engine, registry)
    registry.register(_Domain())
    return registry
