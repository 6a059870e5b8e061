"""The centre's housekeeping inside ``vigil serve``: escalate unacknowledged alarms, flag missed rounds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vigil.access.guard import Scope
from vigil.centre.duty import centre_zone, escalate_due
from vigil.centre.rounds import flag_missed
from vigil.core.context import Vigil
from vigil.core.models import utcnow
from vigil.core.periodic import Periodic

__all__ = ["CentreService", "housekeeping_once"]


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
        self._loop = Periodic(self.run_once, interval=interval, name="vigil-centre")

    def run_once(self) -> dict[str, Any]:
        """One pass (in a worker thread); the loop logs a failure and retries on the next tick."""
        self.last = housekeeping_once(self.vigil)
        return self.last

    async def start(self) -> None:
        """Start the loop on the running event loop."""
        await self._loop.start()

    async def stop(self) -> None:
        """Stop the loop and wait for it."""
        await self._loop.stop()
