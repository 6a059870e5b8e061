"""Cascade, network side: Vigil registers to an upper platform and answers it as a device would.

An :class:`UpperLink` registers with digest, refreshes before expiry, sends keepalives, and after
``misses`` failed keepalives registers again after a random delay (so that many lower platforms do not
return at once). Catalog queries get :func:`.cascade.shared_catalog` in groups paced by the upper's
200 OK; DeviceInfo and DeviceStatus describe this platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from importlib.metadata import version

from vigil.core.context import Vigil
from vigil.gb28181.agent import DeviceAgent
from vigil.gb28181.cascade import UpperConfig, shared_catalog
from vigil.gb28181.manscdp import CatalogItem

__all__ = ["UpperLink"]

log = logging.getLogger("vigil.gb28181")


class UpperLink(DeviceAgent):
    """One upward link; ``await run()`` until cancelled, then ``await stop()``."""

    def __init__(self, cfg: UpperConfig, vigil: Vigil | None, *, retry: float = 60.0, jitter: float = 10.0,
                 misses: int = 3, catalog_group: int = 4) -> None:
        super().__init__(device_id=cfg.local_id, password=cfg.password, server=(cfg.host, cfg.port),
                         platform_id=cfg.upper_id, catalog_group=catalog_group,
                         info={"DeviceName": "Vigil", "Manufacturer": "Vigil", "Model": "platform",
                               "Firmware": version("vigil")})
        self.cfg, self.vigil = cfg, vigil
        self.retry, self.jitter, self.misses = retry, jitter, misses
        self.registered = False
        self.registrations = 0
        self._sn = 0

    async def catalog_items(self) -> list[CatalogItem]:
        if self.vigil is None:
            return self.items
        vigil, rules, who = self.vigil, self.cfg.rules, self.cfg.upper_id

        def read() -> list[CatalogItem]:
            with vigil.db.session() as s:
                return shared_catalog(s, rules, actor=who)

        return await asyncio.get_running_loop().run_in_executor(None, read)

    async def run(self) -> None:
        """Register, keep alive, refresh; re-register with jitter after failures."""
        if self.transport is None:
            await self.start()
        loop = asyncio.get_running_loop()
        while True:
            status = await self.register(self.cfg.expires)
            if status != 200:
                self.registered = False
                log.warning("gb28181 upper %s: REGISTER got %s; retrying", self.cfg.upper_id, status or "no answer")
                await asyncio.sleep(self.retry + random.uniform(0, self.jitter))
                continue
            self.registered = True
            self.registrations += 1
            refresh_at = loop.time() + self.cfg.expires * 0.8
            failures = 0
            while loop.time() < refresh_at and failures < self.misses:
                await asyncio.sleep(self.cfg.keepalive)
                self._sn += 1
                ok = await self.keepalive(self._sn, timeout=min(5.0, self.cfg.keepalive)) == 200
                failures = 0 if ok else failures + 1
            if failures >= self.misses:
                self.registered = False
                log.warning("gb28181 upper %s: %d keepalives failed; registering again", self.cfg.upper_id,
                            failures)
                await asyncio.sleep(random.uniform(0, self.jitter))

    async def stop(self) -> None:
        """Unregister (Expires: 0) and close the socket."""
        if self.registered:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.register(0), 2.0)
        self.registered = False
        self.close()
