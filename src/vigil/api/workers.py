"""Several server processes on one port: ``vigil serve --workers N``.

One process is one core (the GIL). With ``--workers N`` the main process accepts on the port and
starts N-1 API worker processes; each new connection goes to the process with the fewest open ones
(:class:`Workers`). The main process keeps everything that lives in
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

__all__ = ["RELAYED", "SECRET_ENV", "RelayToMain", "RelayedFrom", "Workers", "idle_socket", "merged_metrics", "relayed",
           "serve_also", "take_connection"]

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
    ctrl: socket.socket | None = None  # connections go this way, the worker's count of open ones comes back
    live: int = 0
    sent: int = 0  # connections handed to it; its reports say how many of them it had received then
    ready: bool = False  # it has reported once: started and serving (until then the main process takes its share)


@dataclass
class Workers:
    """The main process's API workers: each new connection goes to the process with the fewest open ones.

    The main process accepts on the port and hands a connection to a worker over a socket pair
    (``SCM_RIGHTS``); each worker reports its count of open connections back as it changes. The
    kernel's own spreading (one ``SO_REUSEPORT`` socket per process, by the connection's addresses) was
    measured first: 20 keep-alive clients landed 14/6, 14/6 and 12/8, and on one shared socket, where
    the process that wakes first takes them, 19/1, 20/0 and 15/5; the busier process set the p95.
    Workers are started again when one exits and stopped with the server; their own figures are read
    from their Unix sockets for ``/metrics``.
    """

    count: int
    listen: socket.socket
    run_dir: Path
    home: Path
    db_url: str
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    argv: list[str] = field(default_factory=list)  # --tls-cert ... passed on: paths and flags, never secrets
    front: ASGIApp | None = None  # the main process's app, served on the socket the workers relay to
    server: Any = None  # the main process's uvicorn server: its connections are counted, its protocol used here
    _workers: list[_Worker] = field(default_factory=list)
    _stopping: bool = False
    _side: Any = None
    _watch: asyncio.Task[None] | None = None
    _pending_here: int = 0
    _turn: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        """The relay socket, the workers and their watch, then the port (a service of the main lifespan)."""
        if self.front is None or self.server is None:
            raise RuntimeError("Workers.front and Workers.server are the main process's app and uvicorn server")
        self._side = await serve_also(self.front, self.bind_main_socket())
        self.spawn_all()
        self._watch = asyncio.create_task(self.supervise())
        self.listen.setblocking(False)
        asyncio.get_running_loop().add_reader(self.listen.fileno(), self._accept)

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(self.listen.fileno())
        self.listen.close()
        if self._watch is not None:
            self._watch.cancel()
        await asyncio.to_thread(self.stop_workers)
        for w in self._workers:
            self._drop_ctrl(w)
        if self._side is not None:
            await self._side.shutdown()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listen.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors: the next readable event tries again
                log.warning("accepting a connection failed: %s", exc)
                return
            self._hand_out(conn)

    def _hand_out(self, conn: socket.socket) -> None:
        here = len(self.server.server_state.connections) + self._pending_here
        n = len(self._workers) + 1
        self._turn += 1
        choices: list[tuple[int, int, _Worker | None]] = [(here, (0 - self._turn) % n, None)]
        choices += [(w.live, (w.index - self._turn) % n, w) for w in self._workers if w.ctrl is not None and w.ready]
        _, _, target = min(choices, key=lambda c: (c[0], c[1]))
        if target is not None and target.ctrl is not None:
            try:
                socket.send_fds(target.ctrl, [b"c"], [conn.fileno()])
                target.live += 1
                target.sent += 1
                conn.close()
                return
            except OSError as exc:  # a worker that just ended: this process takes the connection
                log.info("API worker %d did not take a connection (%s)", target.index, exc)
        self._pending_here += 1
        task = asyncio.get_running_loop().create_task(self._take_here(conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _take_here(self, conn: socket.socket) -> None:
        try:
            await take_connection(self.server, conn)
        finally:
            self._pending_here -= 1

    def _report(self, w: _Worker) -> None:
        ctrl = w.ctrl
        if ctrl is None:
            return
        try:
            data = ctrl.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the worker ended
            self._drop_ctrl(w)
            return
        done = [ln.split() for ln in data.split(b"\n")[:-1]]
        done = [d for d in done if len(d) == 2 and d[0].isdigit() and d[1].isdigit()]
        if done:  # open there, plus the ones sent since that report was written
            open_there, received = int(done[-1][0]), int(done[-1][1])
            w.live, w.ready = open_there + max(0, w.sent - received), True

    def _drop_ctrl(self, w: _Worker) -> None:
        if w.ctrl is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(w.ctrl.fileno())
            w.ctrl.close()
            w.ctrl = None

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
        self._drop_ctrl(w)
        mine, theirs = socket.socketpair()
        try:
            argv = [sys.executable, "-m", "vigil.api.workers", "--conn-fd", str(theirs.fileno()),
                    "--index", str(w.index), "--main-socket", str(self.main_socket),
                    "--own-socket", str(self.worker_socket(w.index)), *self.argv]
            w.proc = subprocess.Popen(argv, env=env, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        w.started, w.live, w.sent, w.ready = time.monotonic(), 0, 0, False
        mine.setblocking(False)
        w.ctrl = mine
        asyncio.get_running_loop().add_reader(mine.fileno(), self._report, w)

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


async def take_connection(server: Any, conn: socket.socket) -> None:
    """Serve an accepted connection with a started uvicorn ``server``'s protocol (TLS, when it has it)."""
    config = server.config

    def protocol() -> asyncio.Protocol:
        return config.http_protocol_class(config=config, server_state=server.server_state,
                                          app_state=server.lifespan.state)

    try:
        conn.setblocking(False)
        await asyncio.get_running_loop().connect_accepted_socket(protocol, conn, ssl=config.ssl)
    except (OSError, ValueError) as exc:  # a client gone before it was served, a TLS handshake that failed
        log.debug("a handed-over connection ended before it was served: %s", exc)
        conn.close()


def idle_socket() -> socket.socket:
    """A listening socket nobody connects to (an abstract Unix address).

    uvicorn needs one to start on, while the real connections are handed to it one by one.
    """
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(f"\0vigil-idle-{os.getpid()}-{secrets.token_hex(4)}")
    s.listen(1)
    return s


async def _feed(server: Any, ctrl: socket.socket) -> None:
    """Worker: serve the connections the main process hands over, and tell it how many are open."""
    while not server.started:
        if server.should_exit:
            return
        await asyncio.sleep(0.02)
    loop = asyncio.get_running_loop()
    ctrl.setblocking(False)
    tasks: set[asyncio.Task[None]] = set()
    received = [0]

    def readable() -> None:
        try:
            msg, fds, _, _ = socket.recv_fds(ctrl, 256, 64)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            msg, fds = b"", []
        for fd in fds:
            received[0] += 1
            task = loop.create_task(take_connection(server, socket.socket(fileno=fd)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if not msg and not fds:  # the main process ended
            loop.remove_reader(ctrl.fileno())
            server.should_exit = True

    loop.add_reader(ctrl.fileno(), readable)
    told: tuple[int, int] = (-1, -1)
    while not server.should_exit:
        now = (len(server.server_state.connections) + len(tasks), received[0])
        if now != told:
            with contextlib.suppress(BlockingIOError, InterruptedError):
                ctrl.send(f"{now[0]} {now[1]}\n".encode())
                told = now
        await asyncio.sleep(0.02)


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
    from vigil.api.server import GRACEFUL_SHUTDOWN_S
    from vigil.cli_common import open_instance

    _die_with_parent()
    ap = argparse.ArgumentParser(prog="vigil.api.workers")
    ap.add_argument("--conn-fd", type=int, required=True)
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
    ctrl = socket.socket(fileno=args.conn_fd)
    config = uvicorn.Config(relay, lifespan="off", log_level=args.log_level, ssl_certfile=args.tls_cert,
                            ssl_keyfile=args.tls_key, proxy_headers=bool(args.trusted_proxy),
                            forwarded_allow_ips=args.trusted_proxy or None, server_header=False,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)

    async def run() -> None:
        own = await serve_also(relay, _bind_unix(args.own_socket))
        app.state.server = server = uvicorn.Server(config)  # an open event stream ends when it stops
        feed = asyncio.create_task(_feed(server, ctrl))
        try:
            await server.serve(sockets=[idle_socket()])
        finally:
            feed.cancel()
            await own.shutdown()
            await relay.aclose()
            v.close()

    asyncio.run(run())


if __name__ == "__main__":
    worker_main()
