"""Point demo cameras at a running simulated fleet, so the health pipeline has real RTSP to probe."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update

from vigil.core.context import Vigil
from vigil.core.models import Camera, Lifecycle
from vigil.sim.fleet import Fleet


def pick_cameras(v: Vigil, n: int, *, region: str = "53018101") -> list[str]:
    """The first ``n`` in-service cameras of ``region`` (the real-map town by default)."""
    with v.db.session() as s:
        return list(s.scalars(select(Camera.id).where(Camera.region_code.startswith(region),
                                                      Camera.lifecycle == Lifecycle.IN_SERVICE)
                              .order_by(Camera.kind != "community_entrance", Camera.id).limit(n)))


def bind_fleet(v: Vigil, fleet: Fleet, camera_ids: Sequence[str]) -> int:
    """Rewrite the URLs and credentials of ``camera_ids`` to those of the fleet's cameras, in order."""
    rows = [{"cid": cid, "main_url": sim.url, "sub_url": sim.sub_url, "onvif_url": sim.onvif_url,
             "username": sim.username, "password_enc": v.box.seal(sim.password)}
            for cid, sim in zip(camera_ids, fleet.cameras, strict=False)]
    with v.db.session() as s:
        for r in rows:
            cid = r.pop("cid")
            s.execute(update(Camera).where(Camera.id == cid).values(**r))
    return len(rows)


class DemoFleet:
    """A service that runs a simulated fleet for the demo and binds it to registry cameras."""

    def __init__(self, v: Vigil, cameras: int, *, streams: int, faults: str, region: str = "53018101") -> None:
        self.v, self.n, self.streams, self.faults, self.region = v, cameras, streams, faults, region
        self.fleet: Fleet | None = None
        self.bound = 0

    async def start(self) -> DemoFleet:
        ids = pick_cameras(self.v, self.n, region=self.region)
        if not ids:
            return self
        self.fleet = Fleet(len(ids), streams=min(self.streams, len(ids)), faults=self.faults, seed=11)
        await self.fleet.start()
        self.bound = bind_fleet(self.v, self.fleet, ids)
        return self

    async def stop(self) -> None:
        if self.fleet is not None:
            await self.fleet.stop()
