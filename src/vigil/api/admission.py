"""Admission control: at most :data:`MAX_IN_FLIGHT` API requests are worked on at once; the rest queue.

Every sync step of a request (each dependency, the handler, the response validation) takes a
thread from AnyIO's pool (40). A request whose transaction holds a database lock may still need
a thread to validate its answer; if every thread were taken by requests waiting for that lock,
all of them would wait until their timeouts (on SQLite every transaction holds the write lock).
Admitting fewer requests than there are threads keeps a thread free for the holder, so the
database is handed over at once. A request queues here without a thread; one that waits longer
than :data:`QUEUE_TIMEOUT_S` is answered 503 with ``Retry-After``. A request leaves the count
when its answer starts (its session is committed by then).

Within that bound, at most :data:`FAST_LANE` *young* requests (admitted less than :data:`YOUNG_S` ago)
are worked on at once, in the order they came. On one core, twenty requests at once in twenty threads
take turns for the GIL and the write lock, and the ones that lose wait longest: the answers spread
(SQLite, 20 clients: p95 about twice the median). Four at a time, first come first served, keeps the
spread small at the same throughput. A request still unanswered after :data:`YOUNG_S` (it waits for a
camera, a peer, the write lock behind a long import) gives its fast-lane place to the next one, so a
slow route never holds up the quick ones by more than that.
"""

from __future__ import annotations

import asyncio
from weakref import WeakKeyDictionary

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.api.problems import busy

__all__ = ["FAST_LANE", "MAX_IN_FLIGHT", "QUEUE_TIMEOUT_S", "YOUNG_S", "Admission"]

#: requests worked on at once: below AnyIO's 40 threads and the database pool (20 + 20 overflow)
MAX_IN_FLIGHT = 24
#: young requests worked on at once, first come first served
FAST_LANE = 4
#: seconds after which an unanswered request leaves the fast lane (it stays in the count of MAX_IN_FLIGHT)
YOUNG_S = 0.1
QUEUE_TIMEOUT_S = 10.0


class Admission:
    """An ASGI layer bounding the API requests in flight (``/api/`` and ``/federation/`` paths)."""

    def __init__(self, app: ASGIApp, *, limit: int = MAX_IN_FLIGHT, fast: int = FAST_LANE,
                 young: float = YOUNG_S, timeout: float = QUEUE_TIMEOUT_S) -> None:
        self.app, self.limit, self.fast, self.young, self.timeout = app, limit, fast, young, timeout
        self._slots: WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[asyncio.Semaphore, asyncio.Semaphore]] = (
            WeakKeyDictionary())

    def _lanes(self) -> tuple[asyncio.Semaphore, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()  # one count per event loop (a server has one; test clients several)
        lanes = self._slots.get(loop)
        if lanes is None:
            lanes = self._slots.setdefault(loop, (asyncio.Semaphore(self.limit), asyncio.Semaphore(self.fast)))
        return lanes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/api/", "/federation/")):
            return await self.app(scope, receive, send)
        slots, fast = self._lanes()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        try:
            await asyncio.wait_for(fast.acquire(), self.timeout)
        except TimeoutError:
            return await busy(scope["path"])(scope, receive, send)
        try:
            await asyncio.wait_for(slots.acquire(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            fast.release()
            return await busy(scope["path"])(scope, receive, send)
        held, young = True, True

        def grow_old() -> None:
            nonlocal young
            if young:
                young = False
                fast.release()

        timer = loop.call_later(self.young, grow_old)

        def leave() -> None:
            nonlocal held
            if held:
                held = False
                timer.cancel()
                grow_old()
                slots.release()

        async def leave_on_start(message: Message) -> None:
            if message["type"] == "http.response.start":
                leave()
            await send(message)

        try:
            await self.app(scope, receive, leave_on_start)
        finally:
            leave()
