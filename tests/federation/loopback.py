"""Real ``vigil serve`` processes on 127.0.0.1 for the multi-level tests, stopped by process id."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Node:
    """One Vigil instance: its home, database, port and (while running) its process."""

    name: str
    home: Path
    port: int = field(default_factory=free_port)
    args: tuple[str, ...] = ("--no-scheduler",)
    proc: subprocess.Popen | None = None
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def db(self) -> str:
        return f"sqlite:///{self.home}/vigil.db"

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        env = {**os.environ, "VIGIL_HOME": str(self.home)}
        env.pop("VIGIL_DB", None)
        log = open(self.home / "serve.log", "ab")  # noqa: SIM115 - the process owns it
        self.proc = subprocess.Popen([sys.executable, "-m", "vigil", "serve", "--port", str(self.port),
                                      "--no-analytics", *self.args], env=env, cwd=self.home, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()

    def wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                httpx.get(self.url + "/api/v1/auth/me", timeout=1, verify=False)
                return
            except httpx.TransportError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        raise AssertionError(f"{self.name} did not come up: {self.log()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def log(self) -> str:
        p = self.home / "serve.log"
        return p.read_text(errors="replace") if p.exists() else ""


async def until(check, what: str, timeout: float = 60.0, every: float = 0.3):
    """Await ``check()`` (an async callable) until it returns a truthy value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of ``target`` that a test cuts: the link between two instances.

    ``mode``: ``pass`` forwards both ways; ``refuse`` closes each connection at once (a blocked network);
    ``drop_answers`` forwards requests but drops the connection when the answer comes (the request was
    applied, its answer lost).
    """

    def __init__(self, target: int) -> None:
        self.target, self.mode = target, "pass"
        self._sock: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        assert self._sock is not None
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def start(self) -> Proxy:
        self._sock = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def cut(self, mode: str) -> None:
        """Switch mode; connections open now are closed (none survives a change of the network)."""
        self.mode = mode
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            _close(c)

    def stop(self) -> None:
        if self._sock is not None:
            _close(self._sock)
        self.cut("refuse")

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            if self.mode == "refuse":
                _close(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, answers: bool) -> None:
        try:
            while data := src.recv(65536):
                if answers and self.mode == "drop_answers":
                    break  # the parent answered: the child never hears it
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(src)
            _close(dst)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()
