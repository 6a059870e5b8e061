"""The GB/T 28181 side of an instance as one service: registrar, media hub and upward links.

``vigil gb serve`` runs it alone; ``vigil serve --gb`` runs it beside the API (same start/stop
contract as the other background services), so GB channels play in that process's live view and
recorder through the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from vigil.core.context import Vigil
from vigil.gb28181.cascade import load_uppers
from vigil.gb28181.hub import MediaHub, MediaTransport
from vigil.gb28181.server import GbConfig, GbServer
from vigil.gb28181.upper import UpperLink

__all__ = ["GbService"]

log = logging.getLogger("vigil.gb28181")


class GbService:
    """``await start()`` binds the registrar (UDP+TCP) and the hub and starts the upper links; ``stop()`` ends all."""

    def __init__(self, v: Vigil, config: GbConfig, *, media: MediaTransport = "udp") -> None:
        self.v, self.config = v, config
        self.server = GbServer(v, config)
        self.hub = MediaHub(self.server, transport=media)
        self.links: list[UpperLink] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> GbService:
        await self.server.start()
        await self.hub.start()
        v = self.v

        def uppers() -> list:  # type: ignore[type-arg]
            with v.db.session() as s:
                return load_uppers(s, v.box)

        self.links = [UpperLink(u, v, source=self.server) for u in await asyncio.to_thread(uppers)]
        self._tasks = [asyncio.create_task(link.run()) for link in self.links]
        log.info("gb28181 service: registrar %s on %s, %d upper platform(s)", self.config.platform_id,
                 self.server.address, len(self.links))
        return self

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for link in self.links:
            await link.stop()
        await self.hub.stop()
        await self.server.stop()
