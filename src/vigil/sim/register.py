"""Put a simulated fleet into a Vigil registry, so the demo city (and ``vigil probe``) run against it.

Two ways:

* ``attach=False`` (default): create one in-service :class:`Camera` per simulated camera in
  ``region`` (GB/T 28181 IDs with type 132, serials after the region's highest one);
* ``attach=True``: point the registry's existing in-service cameras (in ``region``'s subtree,
  ordered by ID) at the fleet, one simulated camera each.

Either way ``main_url``/``sub_url``/``onvif_url`` point at the fleet and the password is sealed
with the instance's credential box. One audit entry records the operation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update

from vigil.access.audit import record
from vigil.core.errors import InputError, NotFoundError
from vigil.core.ids import centre_code_for_region, generate_device_id
from vigil.core.models import Camera, Lifecycle, Region
from vigil.registry.streams import in_service_population, validate_stream_url

if TYPE_CHECKING:
    from vigil.core.context import Vigil

__all__ = ["register_fleet"]


def _fields(vigil: Vigil, cam: dict[str, Any]) -> dict[str, Any]:
    """Registry columns of one manifest camera; its URLs obey the registry's rule like any other."""
    return {"main_url": validate_stream_url(cam["url"], field="url"),
            "sub_url": validate_stream_url(cam["sub_url"], field="sub_url"),
            "onvif_url": validate_stream_url(cam.get("onvif_url", ""), kind="onvif", field="onvif_url"),
            "username": cam["username"], "password_enc": vigil.box.seal(cam["password"])}


def register_fleet(vigil: Vigil, cameras: Sequence[dict[str, Any]], *, region: str | None = None,
                   attach: bool = False, actor: str = "sim") -> list[str]:
    """Register manifest cameras (``Fleet.manifest()["cameras"]``); return the camera IDs used."""
    with vigil.db.session() as s:
        if region is None:
            region = s.scalar(select(Region.code).order_by(func.length(Region.code), Region.code).limit(1))
            if region is None:
                raise NotFoundError("the registry has no regions: run `vigil init` first")
        reg = s.get(Region, region)
        if reg is None:
            raise NotFoundError(f"region {region} does not exist")
        if attach:
            ids = list(s.scalars(select(Camera.id).where(in_service_population(region))
                                 .order_by(Camera.id).limit(len(cameras))))
            rows = [{"id": cid, **_fields(vigil, cam)} for cid, cam in zip(ids, cameras, strict=False)]
            for i in range(0, len(rows), 1000):
                s.execute(update(Camera), rows[i:i + 1000])
        else:
            ids = _new_ids(s, region, len(cameras))
            lon0, lat0 = reg.lon or 0.0, reg.lat or 0.0
            rows = [{"id": cid, "name": f"SIM-{cam['index']:05d}", "region_code": region,
                     "lon": lon0 + (cam["index"] % 200) * 0.0005, "lat": lat0 + (cam["index"] // 200) * 0.0005,
                     "lifecycle": Lifecycle.IN_SERVICE.value, **_fields(vigil, cam)}
                    for cid, cam in zip(ids, cameras, strict=True)]
            for i in range(0, len(rows), 1000):
                s.execute(insert(Camera), rows[i:i + 1000])
        record(s, actor, "sim.register", region, region=region, cameras=len(rows), attach=attach)
    return [r["id"] for r in rows]


def _new_ids(session: Any, region: str, n: int) -> list[str]:
    prefix = centre_code_for_region(region) + "00132"
    top = session.scalar(select(func.max(Camera.id)).where(Camera.id.like(prefix + "%")))
    start = int(top[-6:]) + 1 if top else 1
    if start + n - 1 > 999_999:
        raise InputError(f"region {region} has no room for {n} more camera serials")
    return [generate_device_id(region, start + k).value for k in range(n)]
