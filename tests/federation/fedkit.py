"""Builders for federation tests: instances at each level, links between them, an in-process transport."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from vigil.access.bootstrap import init_instance
from vigil.core.context import Vigil
from vigil.core.ids import generate_device_id
from vigil.core.models import Camera, Region, Site
from vigil.federation.apply import apply_batch
from vigil.federation.links import ShareRules, add_child, add_parent, parent_link
from vigil.federation.models import FedLink
from vigil.federation.publish import build_batch

PREF, CITY, TOWN_A, TOWN_B = "5301", "530102", "53010201", "53010202"
VILLAGE_A, VILLAGE_B = "53010201001", "53010202001"


def instance(tmp: Path, name: str, code: str) -> Vigil:
    """A fresh SQLite instance whose root region is ``code``."""
    v = Vigil.open(f"sqlite:///{tmp}/{name}.db", str(tmp / name))
    init_instance(v, root_code=code, root_name=name)
    return v


def link(parent: Vigil, child: Vigil, name: str, region: str, rules: ShareRules | None = None,
         url: str = "http://127.0.0.1:9") -> str:
    """Link ``child`` under ``parent``; return the token."""
    with parent.db.session() as s:
        token = add_child(s, name, region, actor="test")
    with child.db.session() as s:
        add_parent(s, child.box, url, token, rules or ShareRules(), actor="test")
    return token


def sync(child: Vigil, parent: Vigil, name: str, *, limit: int = 2000) -> int:
    """Push ``child``'s feed into ``parent`` directly (no HTTP); return the entries moved."""
    moved = 0
    for _ in range(1000):
        with child.db.session() as s:
            pl = parent_link(s)
            batch = build_batch(s, ShareRules(**pl.rules), pl.seq, limit=limit)
        with parent.db.session() as s:
            cl = s.scalar(select(FedLink).where(FedLink.name == name))
            res = apply_batch(s, cl, batch)
        with child.db.session() as s:
            parent_link(s).seq = res.seq
        moved += len(batch["entries"])
        if batch["last"] == batch["after"]:
            return moved
    raise AssertionError("feed did not drain")


def add_cameras(v: Vigil, region: str, n: int, *, site_class: int = 3, start: int = 1,
                kind: str = "public_area") -> list[str]:
    """``n`` in-service cameras with URLs and passwords in ``region`` (and its region row), on one site."""
    with v.db.session() as s:
        if s.get(Region, region) is None:
            s.add(Region(code=region, name=f"R{region}", level=len(region), parent_code=region[:-3]
                         if len(region) == 11 else region[:-2]))
            s.flush()
        site = Site(name=f"site {region} {start}", kind="residential", protection_class=site_class,
                    region_code=region, lon=102.7, lat=25.0)
        s.add(site)
        s.flush()
        ids = []
        for i in range(start, start + n):
            cid = generate_device_id(region, i).value
            s.add(Camera(id=cid, name=f"cam {i}", region_code=region, site_id=site.id, lon=102.7, lat=25.0,
                         kind=kind, main_url=f"rtsp://127.0.0.1:8554/cam{i}", username="admin",
                         password_enc=v.box.seal(f"pw-secret-{i}")))
            ids.append(cid)
    return ids
