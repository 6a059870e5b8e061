"""Real receivers for notification tests: Mosquitto (Debian) with an MQTT subscriber, and a local webhook server."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt

from pgserver import free_port

MOSQUITTO = Path("/usr/sbin/mosquitto")


def wait_port(port: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


@contextlib.contextmanager
def mosquitto(folder: Path, *, port: int | None = None) -> Iterator[int]:
    """A Mosquitto broker on 127.0.0.1 (``port``, else an ephemeral one), stopped by its pid; yields the port."""
    assert MOSQUITTO.exists(), "mosquitto (Debian) is not installed: make sysdeps"
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([str(MOSQUITTO), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield port
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(10)


class Subscriber:
    """Subscribes to ``vigil/#`` and ``homeassistant/#`` and keeps every message (topic, payload, retained)."""

    def __init__(self, port: int, client_id: str = "test-sub"):
        self.messages: list[tuple[str, bytes, bool]] = []
        self.ready = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.c.on_connect = lambda c, *a: (c.subscribe([("vigil/#", 1), ("homeassistant/#", 1)]), None)
        self.c.on_subscribe = lambda *a: self.ready.set()
        self.c.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload, bool(m.retain)))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self.ready.wait(5)

    def wait(self, pred, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end and not pred(self.messages):
            time.sleep(0.05)
        return self.messages

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[dict, bytes]] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


@contextlib.contextmanager
def hook_receiver() -> Iterator[tuple[str, list[tuple[dict, bytes]]]]:
    """A webhook receiver on 127.0.0.1: yields its URL and the list of (headers, body) it received."""
    received: list[tuple[dict, bytes]] = []
    handler = type("Hook", (_Hook,), {"received": received})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/hook", received
    finally:
        srv.shutdown()
        srv.server_close()
