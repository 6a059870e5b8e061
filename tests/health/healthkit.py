"""Builders shared by the health tests: a small region tree with cameras."""

from __future__ import annotations

from datetime import UTC, datetime

from vigil.core.ids import generate_device_id
from vigil.core.models import Camera, Region

T0 = datetime(2026, 11, 1, tzinfo=UTC)

REGIONS = [
    ("5301", "Pref", 1, None),
    ("530102", "City", 2, "5301"),
    ("53010201", "Town A", 3, "530102"),
    ("53010202", "Town B", 3, "530102"),
    ("53010201001", "Village 1", 4, "53010201"),
    ("53010201002", "Village 2", 4, "53010201"),
]


def add_regions(session) -> None:
    for code, name, level, parent in REGIONS:
        session.add(Region(code=code, name=name, level=level, parent_code=parent))
    session.flush()


def add_camera(session, region: str, serial: int, *, lifecycle: str = "in_service", url: str = "") -> str:
    cid = str(generate_device_id(region, serial))
    session.add(Camera(id=cid, name=f"cam {serial}", region_code=region, lon=102.7, lat=25.0,
                       lifecycle=lifecycle, main_url=url))
    session.flush()
    return cid


class HookServer:
    """A real HTTP server on 127.0.0.1 (ephemeral port) that records webhook POSTs.

    ``fail_first`` requests are answered with ``fail_status``; the rest with 204.
    """

    def __init__(self, *, fail_first: int = 0, fail_status: int = 500) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_left = fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.requests.append((dict(self.headers.items()), body))
                    fail = outer.fail_left > 0
                    outer.fail_left -= int(fail)
                self.send_response(fail_status if fail else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HookServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def events(self) -> list[str]:
        import json

        return [json.loads(b)["event"] for _, b in self.requests]
