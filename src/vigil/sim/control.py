"""A small HTTP control API for a running fleet (127.0.0.1 only), used by ``vigil sim fault``.

* ``GET /manifest`` – the fleet manifest (JSON);
* ``GET /cameras/INDEX`` – one camera;
* ``PUT /cameras/INDEX/faults`` with ``{"faults": ["offline"]}`` – replace its faults (``[]`` heals it).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

from vigil.core.errors import VigilError
from vigil.sim.fleet import Fleet

__all__ = ["serve_control", "set_faults_remote"]

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


async def _answer(fleet: Fleet, method: str, path: str, body: bytes,
                  on_change: Callable[[], object] | None) -> tuple[int, Any]:
    if path == "/manifest" and method == "GET":
        return 200, fleet.manifest()
    m = re.fullmatch(r"/cameras/(\d+)(/faults)?", path)
    if not m or int(m.group(1)) >= len(fleet.cameras):
        return 404, {"error": "no such resource"}
    index = int(m.group(1))
    if m.group(2) and method in ("PUT", "POST"):
        try:
            faults = json.loads(body or b"{}").get("faults", [])
            cam = await fleet.set_faults(index, faults)
        except (ValueError, AttributeError, VigilError) as exc:
            return 400, {"error": str(exc)}
        if on_change is not None:
            on_change()
        return 200, cam.to_json()
    if method == "GET":
        return 200, fleet.cameras[index].to_json()
    return 405, {"error": "method not allowed"}


async def serve_control(fleet: Fleet, port: int = 0, *,
                        on_change: Callable[[], object] | None = None) -> asyncio.Server:
    """Serve the control API on 127.0.0.1:``port`` (0 picks a free port); ``on_change`` runs after each change."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode("latin-1")
            method, path, _ = (head.split("\r\n", 1)[0].split(" ") + ["", ""])[:3]
            m = re.search(r"(?im)^content-length:\s*(\d+)", head)
            body = await reader.readexactly(int(m.group(1))) if m else b""
            code, payload = await _answer(fleet, method, path, body, on_change)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            code, payload = 400, {"error": "bad request"}
        data = json.dumps(payload).encode()
        writer.write(f"HTTP/1.1 {code} {_REASONS[code]}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)


def set_faults_remote(control_url: str, index: int, faults: list[str]) -> dict[str, Any]:
    """Change a camera's faults through a running fleet's control API."""
    import httpx

    r = httpx.put(f"{control_url.rstrip('/')}/cameras/{index}/faults", json={"faults": faults}, timeout=30, trust_env=False)
    if r.status_code != 200:
        raise VigilError(f"fleet control answered {r.status_code}: {r.json().get('error', '')}")
    return r.json()
