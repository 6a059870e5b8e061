"""Small builders for test data: a two-town region tree with sites, cameras and users."""

from __future__ import annotations

from dataclasses import dataclass, field

from vigil.access.bootstrap import init_instance
from vigil.access.users import add_user, issue_token
from vigil.core.context import Vigil
from vigil.core.ids import generate_device_id
from vigil.core.models import Camera, CameraModel, Region, Site

PREF, CITY, TOWN1, TOWN2 = "5301", "530181", "53018101", "53018102"
VILLAGE1, VILLAGE2 = "53018101201", "53018102201"


@dataclass
class World:
    """IDs and tokens of a small world used by API tests."""

    admin_password: str
    tokens: dict[str, str] = field(default_factory=dict)
    cameras: dict[str, str] = field(default_factory=dict)  # town code -> camera id
    sites: dict[str, int] = field(default_factory=dict)  # town code -> site id
    users: dict[str, int] = field(default_factory=dict)


def build_world(v: Vigil) -> World:
    """A prefecture with one city and two towns, each with a village, a site and a camera."""
    res = init_instance(v, root_code=PREF, root_name="昆明市")
    w = World(res.password)
    with v.db.session() as s:
        s.add(Region(code=CITY, name="安宁市", level=2, parent_code=PREF))
        s.add(CameraModel(name="Bullet-4MP", h_res_px=2560, v_res_px=1440, hfov_deg=90, vfov_deg=52, unit_cost=900))
        s.flush()
        for i, (town, village) in enumerate(((TOWN1, VILLAGE1), (TOWN2, VILLAGE2)), start=1):
            s.add(Region(code=town, name=f"Town {i}", level=3, parent_code=CITY))
            s.flush()
            s.add(Region(code=village, name=f"Village {i}", level=4, parent_code=town))
            s.flush()
            site = Site(name=f"Community {i}", kind="residential", protection_class=i, region_code=village,
                        lon=102.7 + i / 100, lat=25.0)
            s.add(site)
            s.flush()
            cam = Camera(id=generate_device_id(village, i).value, name=f"Gate {i}", region_code=village,
                         site_id=site.id, lon=102.7 + i / 100, lat=25.0, lifecycle="in_service",
                         main_url=f"rtsp://127.0.0.{i}/main", password_enc=v.box.seal(f"secret{i}"))
            s.add(cam)
            w.cameras[town], w.sites[town] = cam.id, site.id
        for town in (TOWN1, TOWN2):
            u = add_user(s, f"admin-{town}", "a-long-password", "admin", [town])
            w.users[town] = u.id
            w.tokens[town] = issue_token(s, u)
            for role in ("duty_officer", "maintenance", "auditor", "planner", "investigator"):
                ru = add_user(s, f"{role}-{town}", "a-long-password", role, [town])
                w.tokens[f"{role}-{town}"] = issue_token(s, ru)
        from sqlalchemy import select

        from vigil.core.models import User

        root = s.scalar(select(User).where(User.name == "admin"))
        w.tokens["root"] = issue_token(s, root)
    return w
