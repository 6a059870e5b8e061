"""Real ``vigil serve`` processes on 127.0.0.1 for the multi-level tests, stopped by process id."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
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
