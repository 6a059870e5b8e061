"""Run the API, the console and the background services (health scheduler, simulator) in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
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

#: seconds a stopping server waits for its open answers before it cancels them: an event stream (a plan job's
#: progress followed by a console) never ends on its own, and held a SIGTERM until its job ended
GRACEFUL_SHUTDOWN_S = 5


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
          trusted_proxies: str = "", workers: int = 1) -> None:
    """Serve until interrupted: on loopback only by default, over TLS when given a certificate and key.

    ``X-Forwarded-For``/``-Proto`` are believed only from ``trusted_proxies`` (comma-separated
    addresses of a reverse proxy); by default from nobody. With ``workers`` > 1, that many processes
    accept on the port (:mod:`vigil.api.workers`); this one keeps the services.
    """
    check_tls(tls_cert, tls_key)
    if workers < 1:
        raise InputError(f"--workers must be 1 or more, not {workers}")
    os.umask(PRIVATE_UMASK)
    pool = None
    if workers > 1:
        from vigil.api.workers import Workers

        argv = [*(["--tls-cert", str(tls_cert), "--tls-key", str(tls_key)] if tls_cert and tls_key else []),
                *(["--trusted-proxy", trusted_proxies] if trusted_proxies else []), "--log-level", log_level]
        pool = Workers(workers, _listen(host, port), v.settings.home / "run", v.settings.home, v.settings.db_url,
                       argv=argv)
        services = [*services, pool]  # started last, stopped first (inside the lifespan: uvicorn re-raises SIGTERM)
    app = app_with_services(v, services)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on",
                            ssl_certfile=tls_cert, ssl_keyfile=tls_key, proxy_headers=bool(trusted_proxies),
                            forwarded_allow_ips=trusted_proxies or None, server_header=False,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    if pool is None:
        app.state.server = server = uvicorn.Server(config)  # an open event stream ends when it stops (deps.stopping)
        asyncio.run(server.serve())
        return
    from vigil.api.workers import RelayedFrom, idle_socket

    app.state.workers = pool
    config.app = pool.front = RelayedFrom(app, secret=pool.secret)
    pool.server = app.state.server = server = uvicorn.Server(config)  # its connections come from the pool
    log.info("serving with %d processes", workers)
    asyncio.run(server.serve(sockets=[idle_socket()]))


def _listen(host: str, port: int) -> socket.socket:
    """The listening TCP socket: the main process accepts and hands each connection to the least busy process."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY only with proto 6
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
    except OSError as exc:
        s.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    s.listen(2048)
    return s


def check_tls(cert: Path | None, key: Path | None) -> None:
    """Both or neither of a certificate and its key, and both readable files."""
    if (cert is None) != (key is None):
        raise InputError("TLS needs both a certificate (--tls-cert) and its key (--tls-key)")
    for f in (cert, key):
        if f is not None and not f.is_file():
            raise InputError(f"no such file: {f}")
