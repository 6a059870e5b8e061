"""Admission control (vigil.api.admission): the bound on requests in flight and its fast lane.

Each test drives the real ASGI layer around a small app whose requests finish only when the test
lets them, so what is admitted when is decided by the layer, not by timing.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from vigil.api.admission import Admission


class Held:
    """An ASGI app whose request ``/api/N`` enters, then waits until ``let(N)``; it answers 200."""

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.arrived: asyncio.Queue[str] = asyncio.Queue()

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    def let(self, name: str) -> None:
        self.gate(name).set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        name = scope["path"].rsplit("/", 1)[-1]
        self.entered.append(name)
        await self.arrived.put(name)
        await self.gate(name).wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _request(layer: Admission, name: str, prefix: str = "/api") -> tuple[int, dict[str, str], bytes]:
    path = f"{prefix}/{name}"
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
             "query_string": b"", "headers": [], "scheme": "http", "server": ("127.0.0.1", 80),
             "client": ("127.0.0.1", 1), "http_version": "1.1", "root_path": ""}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await layer(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, body


async def _occupy(app: Held, layer: Admission, name: str) -> asyncio.Task[tuple[int, dict[str, str], bytes]]:
    """Request ``name`` and wait until it is inside the app (held there until ``app.let(name)``)."""
    task = asyncio.create_task(_request(layer, name))
    assert await asyncio.wait_for(app.arrived.get(), 10) == name
    return task


async def _settle() -> None:
    for _ in range(50):  # let every runnable task run as far as it can
        await asyncio.sleep(0)


def test_fast_lane_admits_young_requests_in_the_order_they_came() -> None:
    async def scenario() -> None:
        app = Held()
        layer = Admission(app, limit=10, fast=2, young=3600, timeout=60)
        tasks = []
        for name in ("a", "b", "c", "d"):
            tasks.append(asyncio.create_task(_request(layer, name)))
            await _settle()
        assert app.entered == ["a", "b"]  # two young requests at once; c and d wait without running
        app.let("b")
        await _settle()
        assert app.entered == ["a", "b", "c"]  # b's answer let the first in line in
        app.let("a")
        await _settle()
        assert app.entered == ["a", "b", "c", "d"]
        app.let("c")
        app.let("d")
        statuses = [(await t)[0] for t in tasks]
        assert statuses == [200, 200, 200, 200]

    asyncio.run(scenario())


def test_a_slow_request_gives_its_fast_lane_place_away_but_still_counts() -> None:
    async def scenario() -> None:
        app = Held()
        layer = Admission(app, limit=2, fast=1, young=0.01, timeout=60)
        slow = await _occupy(app, layer, "slow")
        quick = asyncio.create_task(_request(layer, "quick"))
        # the slow one grows old and leaves the fast lane, so the quick one gets in while it still waits
        assert await asyncio.wait_for(app.arrived.get(), 10) == "quick"
        assert not slow.done()
        third = asyncio.create_task(_request(layer, "third"))
        await asyncio.sleep(0.05)  # past "young" for both: only the overall bound (2) holds it back now
        await _settle()
        assert app.entered == ["slow", "quick"]
        app.let("quick")
        assert (await quick)[0] == 200
        assert await asyncio.wait_for(app.arrived.get(), 10) == "third"
        app.let("slow")
        app.let("third")
        assert (await slow)[0] == 200 and (await third)[0] == 200

    asyncio.run(scenario())


def test_a_request_that_waits_too_long_is_told_to_come_back() -> None:
    async def scenario() -> None:
        app = Held()
        layer = Admission(app, limit=1, fast=1, young=3600, timeout=0.05)
        first = await _occupy(app, layer, "first")
        status, headers, body = await _request(layer, "second")
        assert status == 503
        assert headers["content-type"].startswith("application/problem+json")
        assert int(headers["retry-after"]) >= 1
        assert json.loads(body)["status"] == 503
        assert app.entered == ["first"]  # the refused request never reached the app
        app.let("first")
        assert (await first)[0] == 200
        app.let("after")
        assert (await _request(layer, "after"))[0] == 200  # its place was given back

    asyncio.run(scenario())


def test_pages_outside_the_api_are_not_held_back() -> None:
    async def scenario() -> None:
        app = Held()
        layer = Admission(app, limit=1, fast=1, young=3600, timeout=0.05)
        held = await _occupy(app, layer, "held")
        app.let("map.js")
        assert (await _request(layer, "map.js", prefix="/static"))[0] == 200  # the API is full; pages still load
        app.let("held")
        assert (await held)[0] == 200

    asyncio.run(scenario())
