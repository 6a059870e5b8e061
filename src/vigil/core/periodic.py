"""A background pass run every few seconds, as a service with ``start()`` and ``stop()``."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable
from typing import Any

from vigil.core.telemetry import telemetry

__all__ = ["Periodic"]

log = logging.getLogger("vigil.periodic")


class Periodic:
    """Call ``fn()`` every ``interval`` seconds; a failed pass is reported, then retried.

    A plain function runs in a worker thread; a coroutine function is awaited on the event loop
    (for passes that talk to NATS). ``on_error(exc)`` (plain or async) reports a failed pass instead
    of the default traceback in the log; ``retry`` is the wait after a failed pass (default
    ``interval``). ``interval=0`` loops at once: for passes that wait themselves (a fetch with a timeout).
    """

    def __init__(self, fn: Callable[[], Any], *, interval: float, name: str,
                 on_error: Callable[[Exception], Any] | None = None, retry: float | None = None) -> None:
        self.fn, self.interval, self.name = fn, interval, name
        self.on_error = on_error
        self.retry = interval if retry is None else retry
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()`` while the loop is alive."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the loop on the running event loop (a second call while it runs does nothing)."""
        if not self.running:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        """Stop the loop and wait for the pass in progress."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _pass(self) -> None:
        if inspect.iscoroutinefunction(self.fn):
            await self.fn()
        else:
            await asyncio.to_thread(self.fn)

    async def _failed(self, exc: Exception) -> None:
        telemetry().job_failed(self.name)  # vigil_job_errors_total{kind=<the pass's name>}
        if self.on_error is None:
            log.error("%s: a pass failed", self.name, exc_info=exc)
            return
        try:
            res = self.on_error(exc)
            if inspect.isawaitable(res):
                await res
        except Exception:  # the reporter itself must not end the loop
            log.exception("%s: the error hook failed", self.name)

    async def _loop(self) -> None:
        while True:
            try:
                await self._pass()
                wait = self.interval
            except Exception as exc:  # a failed pass is reported and retried on the next tick
                await self._failed(exc)
                wait = self.retry
            await asyncio.sleep(wait)
