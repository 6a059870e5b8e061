"""Point demo cameras at a running simulated fleet, so the health pipeline has real RTSP to probe.

The simulator answers RTSP for every camera but streams video only for a few (streaming 20,000
cameras would need a data centre), so picture sampling is limited to those.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update

from vigil.core.context import Vigil
from vigil.core.models import Camera
from vigil.core.regions import in_subtree
from vigil.registry.streams import in_service_population
from vigil.sim.fleet import Fleet


def pick_cameras(v: Vigil, n: int, *, region: str = "5301") -> list[str]:
    """Up to ``n`` in-service cameras of ``region``, the real-map town's community entrances first."""
    with v.db.session() as s:
        return list(s.scalars(select(Camera.id).where(in_service_population(region))
                              .order_by(~in_subtree(Camera.region_code, "53018101"),
                                        Camera.kind != "community_entrance", Camera.id).limit(n)))


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

    def __init__(self, v: Vigil, cameras: int, *, streams: int, faults: str, region: str = "5301") -> None:
        self.v, self.n, self.streams, self.faults, self.region = v, cameras, streams, faults, region
        self.fleet: Fleet | None = None
        self.bound = 0
        self.streaming: set[str] = set()

    def streaming_ids(self) -> set[str]:
        """Registry ids of the simulated cameras that really stream video (the others answer RTSP only)."""
        return self.streaming

    async def start(self) -> DemoFleet:
        ids = pick_cameras(self.v, self.n, region=self.region)
        if not ids:
            return self
        self.fleet = Fleet(len(ids), streams=min(self.streams, len(ids)), faults=self.faults, seed=11)
        await self.fleet.start()
        self.bound = bind_fleet(self.v, self.fleet, ids)
        self.streaming = {cid for cid, sim in zip(ids, self.fleet.cameras, strict=False) if sim.streaming}
        return self

    async def stop(self) -> None:
        if self.fleet is not None:
            await self.fleet.stop()
