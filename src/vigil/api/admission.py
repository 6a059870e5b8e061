"""Admission control: at most :data:`MAX_IN_FLIGHT` API requests are worked on at once; the rest queue.

Every sync step of a request (each dependency, the handler, the response validation) takes a
thread from AnyIO's pool (40). A request whose transaction holds a database lock may still need
a thread to validate its answer; if every thread were taken by requests waiting for that lock,
all of them would wait until their timeouts (on SQLite every transaction holds the write lock).
Admitting fewer requests than there are threads keeps a thread free for the holder, so the
database is handed over at once. A request queues here without a thread; one that waits longer
than :data:`QUEUE_TIMEOUT_S` is answered 503 with ``Retry-After``. A request leaves the count
when its answer starts (its session is committed by then).
"""

from __future__ import annotations

import asyncio
from weakref import WeakKeyDictionary

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.api.problems import busy

__all__ = ["MAX_IN_FLIGHT", "QUEUE_TIMEOUT_S", "Admission"]

#: requests worked on at once: below AnyIO's 40 threads and the database pool (20 + 20 overflow)
MAX_IN_FLIGHT = 24
QUEUE_TIMEOUT_S = 10.0


class Admission:
    """An ASGI layer bounding the API requests in flight (``/api/`` and ``/federation/`` paths)."""

    def __init__(self, app: ASGIApp, *, limit: int = MAX_IN_FLIGHT, timeout: float = QUEUE_TIMEOUT_S) -> None:
        self.app, self.limit, self.timeout = app, limit, timeout
        self._slots: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = WeakKeyDictionary()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/api/", "/federation/")):
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()  # one count per event loop (a server has one; test clients several)
        slots = self._slots.get(loop) or self._slots.setdefault(loop, asyncio.Semaphore(self.limit))
        try:
            await asyncio.wait_for(slots.acquire(), self.timeout)
        except TimeoutError:
            return await busy(scope["path"])(scope, receive, send)
        held = True

        async def leave_on_start(message: Message) -> None:
            nonlocal held
            if held and message["type"] == "http.response.start":
                held = False
                slots.release()
            await send(message)

        try:
            await self.app(scope, receive, leave_on_start)
        finally:
            if held:
                slots.release()
