"""Run the API, the console and the background services (health scheduler, simulator) in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

import uvicorn
from fastapi import FastAPI

from vigil.api.app import create_app
from vigil.core.context import Vigil

__all__ = ["Service", "serve"]

log = logging.getLogger("vigil.serve")


class Service(Protocol):
    """A background service with an explicit lifecycle."""

    async def start(self) -> object: ...

    async def stop(self) -> object: ...


def app_with_services(v: Vigil, services: Sequence[Service]) -> FastAPI:
    """The API app whose lifespan starts ``services`` in order and stops them in reverse."""
    app = create_app(v)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        started: list[Service] = []
        try:
            for s in services:
                await s.start()
                started.append(s)
            yield
        finally:
            for s in reversed(started):
                try:
                    await s.stop()
                except Exception:  # a failing stop must not hide the others
                    log.exception("stopping %s failed", type(s).__name__)

    app.router.lifespan_context = lifespan
    return app


def serve(v: Vigil, *, host: str = "127.0.0.1", port: int = 8080, services: Sequence[Service] = (),
          log_level: str = "warning") -> None:
    """Serve until interrupted."""
    app = app_with_services(v, services)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on")
    asyncio.run(uvicorn.Server(config).serve())
