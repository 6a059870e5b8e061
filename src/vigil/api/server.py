"""Run the API, the console and the background services (health scheduler, simulator) in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Protocol

import uvicorn
from fastapi import FastAPI

from vigil.api.app import create_app
from vigil.api.routers.video import close_live
from vigil.core.context import Vigil
from vigil.core.errors import InputError
from vigil.core.private import PRIVATE_UMASK

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
            await asyncio.to_thread(close_live, app)  # live FFmpegs and their folder end with the server

    app.router.lifespan_context = lifespan
    return app


def serve(v: Vigil, *, host: str = "127.0.0.1", port: int = 8080, services: Sequence[Service] = (),
          log_level: str = "warning", tls_cert: Path | None = None, tls_key: Path | None = None,
          trusted_proxies: str = "") -> None:
    """Serve until interrupted: on loopback only by default, over TLS when given a certificate and key.

    ``X-Forwarded-For``/``-Proto`` are believed only from ``trusted_proxies`` (comma-separated
    addresses of a reverse proxy); by default from nobody.
    """
    check_tls(tls_cert, tls_key)
    os.umask(PRIVATE_UMASK)
    app = app_with_services(v, services)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on",
                            ssl_certfile=tls_cert, ssl_keyfile=tls_key, proxy_headers=bool(trusted_proxies),
                            forwarded_allow_ips=trusted_proxies or None, server_header=False)
    asyncio.run(uvicorn.Server(config).serve())


def check_tls(cert: Path | None, key: Path | None) -> None:
    """Both or neither of a certificate and its key, and both readable files."""
    if (cert is None) != (key is None):
        raise InputError("TLS needs both a certificate (--tls-cert) and its key (--tls-key)")
    for f in (cert, key):
        if f is not None and not f.is_file():
            raise InputError(f"no such file: {f}")
