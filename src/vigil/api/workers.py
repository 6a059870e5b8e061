"""Several server processes on one port: ``vigil serve --workers N``.

One process is one core (the GIL). With ``--workers N`` the main process binds the port N times
(``SO_REUSEPORT``, so the kernel spreads the connections) and starts N-1 API worker processes, each
accepting on one of those sockets. The main process keeps everything that lives in
one process's memory: the background services, the live-view packagers (HLS), the sign-in throttle and
the import line. A worker relays those routes (:data:`RELAYED`) to the main process over a Unix socket
in ``VIGIL_HOME/run`` (0600), with the caller's address and scheme in headers that the main process
believes only with the secret both were given in their environment (never on a command line). Every
other route is answered by whichever process accepted the connection; on SQLite their writes take turns
through :class:`vigil.core.db.ProcessTurn`. ``/metrics`` is answered by the main process with every
process's figures, each labelled ``worker`` (0 is the main process).

A worker dies with the main process (``PR_SET_PDEATHSIG``, so SIGKILL of the main process leaves no
worker behind), and the main process starts a worker again that exited while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hmac
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["RELAYED", "SECRET_ENV", "RelayToMain", "RelayedFrom", "Workers", "merged_metrics", "relayed", "serve_also"]

log = logging.getLogger("vigil.serve")

#: the routes that need the main process's memory: sign-in throttle, live-view packagers, the import line, and
#: the metrics of every process
RELAYED = ("/api/v1/auth/login", "/api/v1/video/live/", "/api/v1/import/", "/metrics")
#: the environment variable that carries the relay secret to the workers
SECRET_ENV = "VIGIL_RELAY_SECRET"
#: a worker's own figures, asked for by the main process's ``/metrics`` (answered only with the secret)
WORKER_METRICS = "/_vigil/worker-metrics"
_SECRET = b"x-vigil-relay"
_CLIENT = b"x-vigil-relay-client"
_SCHEME = b"x-vigil-relay-scheme"
_OURS = (_SECRET, _CLIENT, _SCHEME)
_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade", b"proxy-connection", b"host"}
_PR_SET_PDEATHSIG = 1


def relayed(path: str) -> bool:
    """Whether a worker hands ``path`` to the main process."""
    return any(path == p.rstrip("/") or path.startswith(p) for p in RELAYED)


def _secret_of(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    return next((v for k, v in headers if k == _SECRET), None)


def _trusted(headers: Iterable[tuple[bytes, bytes]], secret: str) -> bool:
    got = _secret_of(headers)
    return got is not None and hmac.compare_digest(got, secret.encode())


async def _answer(send: Send, status: int, body: bytes, content_type: bytes = b"application/problem+json",
                  extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                            *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


class RelayedFrom:
    """Main process, outermost: a relayed request gets its caller's address and scheme back.

    Other requests lose the relay headers: a caller cannot claim to be relayed without the secret.
    """

    def __init__(self, app: ASGIApp, *, secret: str) -> None:
        self.app = app
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(k in _OURS for k, _ in scope["headers"]):
            headers = scope["headers"]
            trusted = _trusted(headers, self.secret)
            scope = dict(scope, headers=[(k, v) for k, v in headers if k not in _OURS])
            if trusted:
                fields = dict(headers)
                host, _, port = fields.get(_CLIENT, b"").decode("latin-1").rpartition(":")
                if host:
                    scope["client"] = (host, int(port) if port.isdigit() else 0)
                scheme = fields.get(_SCHEME, b"").decode("latin-1")
                if scheme in ("http", "https"):
                    scope["scheme"] = scheme
        await self.app(scope, receive, send)


class RelayToMain:
    """Worker, outermost: :data:`RELAYED` routes go to the main process over its Unix socket.

    Bodies stream both ways. :data:`WORKER_METRICS` with the secret is this worker's own exposition.
    """

    def __init__(self, app: ASGIApp, *, main_socket: Path, secret: str, registry: CollectorRegistry | None) -> None:
        self.app = app
        self.main_socket = main_socket
        self.secret = secret
        self.registry = registry
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=str(self.main_socket)),
                                             base_url="http://vigil-main", timeout=httpx.Timeout(None, connect=5.0))
        return self._client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if path == WORKER_METRICS:
            if self.registry is None or not _trusted(scope["headers"], self.secret):
                return await _answer(send, 404, b'{"title":"Not Found","status":404}')
            return await _answer(send, 200, generate_latest(self.registry), b"text/plain; version=0.0.4")
        if not relayed(path):
            return await self.app(scope, receive, send)
        await self._relay(scope, receive, send)

    async def _relay(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client") or ("unknown", 0)
        headers = [(k, v) for k, v in scope["headers"] if k not in _HOP and k not in _OURS]
        headers += [(_SECRET, self.secret.encode()), (_CLIENT, f"{client[0]}:{client[1]}".encode()),
                    (_SCHEME, scope.get("scheme", "http").encode())]

        async def body() -> Any:
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return
                if msg.get("body"):
                    yield msg["body"]
                if not msg.get("more_body"):
                    return

        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        request = self._http().build_request(scope["method"], target.decode("latin-1"), headers=headers,
                                             content=body())
        try:
            reply = await self._http().send(request, stream=True)
        except httpx.TransportError:
            log.warning("the main process did not answer a relayed %s %s", scope["method"], scope["path"])
            return await _answer(send, 503, b'{"type":"about:blank","title":"Service Unavailable","status":503,'
                                 b'"detail":"the server\'s main process is not answering; retry shortly"}',
                                 extra=[(b"retry-after", b"2")])
        try:
            await send({"type": "http.response.start", "status": reply.status_code,
                        "headers": [(k, v) for k, v in reply.headers.raw if k.lower() not in _HOP]})
            async for chunk in reply.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await reply.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def merged_metrics(expositions: Iterable[tuple[str, str]]) -> bytes:
    """One exposition of several processes' ``(worker, text)``: every sample labelled with its worker."""
    families: dict[str, Metric] = {}
    for worker, text in expositions:
        for fam in text_string_to_metric_families(text):
            into = families.get(fam.name)
            if into is None:
                into = families[fam.name] = Metric(fam.name, fam.documentation, fam.type, fam.unit)
            into.samples += [Sample(s.name, {**s.labels, "worker": worker}, s.value, s.timestamp, s.exemplar)
                             for s in fam.samples]

    class _All:
        def collect(self) -> Iterable[Metric]:
            return list(families.values())

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_All())  # type: ignore[arg-type]
    return generate_latest(registry)


def _die_with_parent() -> None:
    """Linux: this process gets SIGTERM when the process that started it ends (SIGKILL included)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class _Worker:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    quick_exits: int = 0


@dataclass
class Workers:
    """The main process's API workers: started on the shared socket, started again when one exits.

    They are stopped with the server; their own figures are read from their Unix sockets for ``/metrics``.
    """

    count: int
    listen: list[socket.socket]  # one per process (SO_REUSEPORT): [0] is the main process's
    run_dir: Path
    home: Path
    db_url: str
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    argv: list[str] = field(default_factory=list)  # --tls-cert ... passed on: paths and flags, never secrets
    front: ASGIApp | None = None  # the main process's app, served on the socket the workers relay to
    _workers: list[_Worker] = field(default_factory=list)
    _stopping: bool = False
    _side: Any = None
    _watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """The relay socket first, then the workers and their watch (a service of the main process's lifespan)."""
        if self.front is None:
            raise RuntimeError("Workers.front is the app to serve the relay socket with")
        self._side = await serve_also(self.front, self.bind_main_socket())
        self.spawn_all()
        self._watch = asyncio.create_task(self.supervise())

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        await asyncio.to_thread(self.stop_workers)
        if self._side is not None:
            await self._side.shutdown()

    @property
    def main_socket(self) -> Path:
        return self.run_dir / f"api-main-{os.getpid()}.sock"

    def worker_socket(self, index: int) -> Path:
        return self.run_dir / f"api-worker-{os.getpid()}-{index}.sock"

    def bind_main_socket(self) -> socket.socket:
        """The Unix socket the workers relay to (only this user can connect); a killed server's are removed."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.run_dir.glob("api-*.sock"):
            pid = stale.stem.split("-")[2] if stale.stem.count("-") >= 2 else ""
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                with contextlib.suppress(OSError):
                    stale.unlink()
        return _bind_unix(self.main_socket, backlog=128)

    def spawn_all(self) -> None:
        self._workers = [_Worker(i) for i in range(1, self.count)]
        for w in self._workers:
            self._spawn(w)

    def _spawn(self, w: _Worker) -> None:
        env = {**os.environ, SECRET_ENV: self.secret, "VIGIL_DB": self.db_url, "VIGIL_HOME": str(self.home)}
        fd = self.listen[w.index].fileno()
        argv = [sys.executable, "-m", "vigil.api.workers", "--fd", str(fd), "--index", str(w.index),
                "--main-socket", str(self.main_socket), "--own-socket", str(self.worker_socket(w.index)), *self.argv]
        w.proc = subprocess.Popen(argv, env=env, pass_fds=(fd,), stdin=subprocess.DEVNULL)
        w.started = time.monotonic()

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self._workers if w.proc is not None and w.proc.poll() is None]

    async def supervise(self, every_s: float = 1.0) -> None:
        """Start a worker again that exited; give up on one that keeps exiting within 5 s of its start."""
        while not self._stopping:
            await asyncio.sleep(every_s)
            for w in self._workers:
                if self._stopping or w.proc is None or w.proc.poll() is None:
                    continue
                quick = time.monotonic() - w.started < 5
                w.quick_exits = w.quick_exits + 1 if quick else 0
                if w.quick_exits >= 3:
                    log.error("API worker %d exited %d times right after its start (code %s); not started again",
                              w.index, w.quick_exits, w.proc.returncode)
                    w.proc = None
                    continue
                log.warning("API worker %d exited (code %s); starting it again", w.index, w.proc.returncode)
                self._spawn(w)

    def stop_workers(self, timeout_s: float = 10.0) -> None:
        """SIGTERM every worker, then SIGKILL the ones still running after ``timeout_s``."""
        self._stopping = True
        procs = [w.proc for w in self._workers if w.proc is not None]
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        for path in [self.main_socket, *(self.worker_socket(w.index) for w in self._workers)]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def expositions(self) -> list[tuple[str, str]]:
        """Each running worker's own figures (a worker that does not answer within 2 s is left out)."""
        out = []
        for w in self._workers:
            path = self.worker_socket(w.index)
            if w.proc is None or w.proc.poll() is not None or not path.exists():
                continue
            try:
                with httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), timeout=2.0) as c:
                    r = c.get("http://vigil-worker" + WORKER_METRICS, headers={_SECRET.decode(): self.secret})
                if r.status_code == 200:
                    out.append((str(w.index), r.text))
            except httpx.HTTPError as exc:
                log.warning("API worker %d did not give its metrics: %s", w.index, exc)
        return out


async def serve_also(app: ASGIApp, sock: socket.socket) -> Any:
    """Serve ``app`` on one more socket (no lifespan, no signal handlers): returns the uvicorn server to shut down."""
    import uvicorn

    config = uvicorn.Config(app, lifespan="off", log_level="warning", server_header=False, date_header=False)
    config.load()
    side = uvicorn.Server(config)
    side.lifespan = config.lifespan_class(config)  # what Server.serve sets before its startup (a no-op one here)
    await side.startup(sockets=[sock])
    return side


def _bind_unix(path: Path, *, backlog: int = 16) -> socket.socket:
    """A listening Unix socket at ``path`` that only this user can connect to."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        s.bind(str(path))
    finally:
        os.umask(old)
    s.listen(backlog)
    return s


def worker_main(argv: list[str] | None = None) -> None:
    """A worker process: the API without background services on the main process's socket."""
    import argparse

    import uvicorn

    from vigil.api.app import create_app
    from vigil.cli_common import open_instance

    _die_with_parent()
    ap = argparse.ArgumentParser(prog="vigil.api.workers")
    ap.add_argument("--fd", type=int, required=True)
    ap.add_argument("--index", type=int, required=True)
    ap.add_argument("--main-socket", type=Path, required=True)
    ap.add_argument("--own-socket", type=Path, required=True)
    ap.add_argument("--tls-cert", type=Path)
    ap.add_argument("--tls-key", type=Path)
    ap.add_argument("--trusted-proxy", default="")
    ap.add_argument("--log-level", default="warning")
    args = ap.parse_args(argv)
    secret = os.environ.pop(SECRET_ENV, "")
    if not secret:
        raise SystemExit("vigil.api.workers is started by `vigil serve --workers N`, not by hand")
    if os.getppid() == 1:  # the main process ended before this one could watch it
        raise SystemExit(0)
    v = open_instance(None, None)
    app = create_app(v)
    relay = RelayToMain(app, main_socket=args.main_socket, secret=secret, registry=app.state.metrics_registry)
    sock = socket.socket(fileno=args.fd)  # the family is read from the descriptor (uvicorn's fd= assumes AF_UNIX)
    config = uvicorn.Config(relay, lifespan="off", log_level=args.log_level, ssl_certfile=args.tls_cert,
                            ssl_keyfile=args.tls_key, proxy_headers=bool(args.trusted_proxy),
                            forwarded_allow_ips=args.trusted_proxy or None, server_header=False)

    async def run() -> None:
        own = await serve_also(relay, _bind_unix(args.own_socket))
        try:
            await uvicorn.Server(config).serve(sockets=[sock])
        finally:
            await own.shutdown()
            await relay.aclose()
            v.close()

    asyncio.run(run())


if __name__ == "__main__":
    worker_main()
