"""A background pass run every few seconds in a thread, as a service with ``start()`` and ``stop()``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["Periodic"]

log = logging.getLogger("vigil.periodic")


class Periodic:
    """Call ``fn()`` in a worker thread every ``interval`` seconds; a failed pass is logged, then retried."""

    def __init__(self, fn: Callable[[], Any], *, interval: float, name: str) -> None:
        self.fn, self.interval, self.name = fn, interval, name
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the loop on the running event loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        """Stop the loop and wait for the pass in progress."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.fn)
            except Exception:  # a failed pass is logged and retried on the next tick
                log.exception("%s: a pass failed", self.name)
            await asyncio.sleep(self.interval)
