"""The centre's housekeeping inside ``vigil serve``: escalate unacknowledged alarms, flag missed rounds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from vigil.access.guard import Scope
from vigil.centre.duty import centre_zone, escalate_due
from vigil.centre.rounds import flag_missed
from vigil.core.context import Vigil
from vigil.core.models import utcnow

__all__ = ["CentreService", "housekeeping_once"]

log = logging.getLogger("vigil.centre.service")


def housekeeping_once(vigil: Vigil, now: datetime | None = None) -> dict[str, Any]:
    """One pass over the whole instance (the system's scope): escalations, then missed rounds."""
    now = now or utcnow()
    tz = centre_zone(vigil.settings)
    with vigil.db.session() as s:
        esc = escalate_due(s, now, scope=Scope.everything())
        missed = flag_missed(s, now, scope=Scope.everything(), tz=tz)
        return {"escalated": [e.alarm_id for e in esc], "missed_runs": [m.id for m in missed]}


class CentreService:
    """Runs :func:`housekeeping_once` every ``interval`` seconds; the constructor only assigns."""

    def __init__(self, vigil: Vigil, *, interval: float = 30.0) -> None:
        self.vigil = vigil
        self.interval = interval
        self.last: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the loop on the running event loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="vigil-centre")

    async def stop(self) -> None:
        """Stop the loop and wait for it."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                self.last = await asyncio.to_thread(housekeeping_once, self.vigil)
            except Exception:  # a failed pass is logged and retried on the next tick
                log.exception("centre housekeeping failed")
            await asyncio.sleep(self.interval)
