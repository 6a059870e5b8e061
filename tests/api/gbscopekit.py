"""GB/T 28181 and federation views in the scope matrix: a GB device with channels and a remote camera per area.

Importing this registers a seeder with :mod:`scopekit` and the ``MISSING`` ID of ``device_id``;
:mod:`matrixkit` merges :data:`PATH`.
"""

from __future__ import annotations

from collections.abc import Callable

from scopekit import AREAS, MISSING, SEEDERS, TAG, Ctx

from vigil.core.ids import generate_device_id
from vigil.federation.apply import apply_batch
from vigil.federation.links import ShareRules, add_child, parse_rules
from vigil.federation.models import FedLink
from vigil.gb28181 import store
from vigil.gb28181.cascade import add_upper
from vigil.gb28181.manscdp import CatalogItem


def seed(ctx: Ctx) -> None:
    """Per area: an NVR with a directory and the area's camera as a channel; a child link with one remote camera."""
    with ctx.v.db.session() as s:  # the whole instance's upper, and one per town (town B's names its code)
        add_upper(s, ctx.v.box, "53010000002000000001", host="127.0.0.1", port=5060, password="upper-secret",
                  local_id="53010000002000000002", rules=ShareRules(), actor="seed")
        for n, (town, _) in enumerate(AREAS.values(), start=2):
            add_upper(s, ctx.v.box, f"5301000000200000000{n}", host="127.0.0.1", port=5060 + n,
                      password=f"upper-secret{n}", local_id="53010000002000000009", rules=parse_rules(f"regions={town}"),
                      actor="seed")
    for area, (town, village) in AREAS.items():
        nvr = generate_device_id(village, 1, type_code=118).value
        group = generate_device_id(village, 2, type_code=216).value
        with ctx.v.db.session() as s:
            store.add_device(s, ctx.v.box, nvr, f"secret{area[-1]}-{TAG[area]}", actor="seed", region=village,
                             name=f"{TAG[area]} NVR")
            store.apply_catalog(s, nvr, [CatalogItem(group, name=f"{TAG[area]} group", parent_id=nvr),
                                         CatalogItem(ctx.objs[area]["camera_id"], name=f"{TAG[area]} gate",
                                                     parent_id=group, civil_code=village)])
            add_child(s, f"{TAG[area]}-child", town, actor="seed")
            s.flush()
            link = s.query(FedLink).filter_by(name=f"{TAG[area]}-child").one()
            remote = generate_device_id(village, 900).value
            apply_batch(s, link, {"after": 0, "last": 1, "entries": [{"op": "upsert", "kind": "camera", "data": {
                "id": remote, "name": f"{TAG[area]} remote gate", "region_code": village, "lon": 102.7, "lat": 25.0,
                "height_m": 6.0, "heading_deg": 0.0, "tilt_deg": 15.0,
                "kind": "public_area", "owner": "public_security", "lifecycle": "in_service",
                "origin": f"{TAG[area]}-village"}}]})
        ctx.objs[area]["device_id"] = nvr
        ctx.objs[area]["remote_camera"] = remote


SEEDERS.append(seed)
MISSING["device_id"] = generate_device_id("53018109201", 1, type_code=118).value

PATH: dict[str, Callable[[Ctx, str, str, bool], str]] = {
    "device_id": lambda c, a, p, f: c.objs[a]["device_id"],
}
