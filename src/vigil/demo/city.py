"""Build the demo city modelled on the reference user.

A prefecture, one county-level city, 16 towns, ~900 villages and communities, ~20,547 cameras in the
reference mix, with GB/T 28181 IDs consistent with the regions.

Town 1 (锦江街道) sits on the real map shipped in ``vigil/demo/data/kunming_jinjiang`` (OpenStreetMap
data, ODbL 1.0; see ``data/README.md`` and ``NOTICE``): its 16 named
residential compounds become sites with polygons (the convex hull of their buildings) and
their entrance cameras stand at the compounds' edges. Each town gets an outline drawn around its sites
(:mod:`vigil.demo.outlines`), which the console map draws.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import mapping, shape
from shapely.ops import unary_union
from sqlalchemy import insert, select, update

from vigil.core.context import Vigil
from vigil.core.errors import ConflictError, VigilError
from vigil.core.ids import generate_device_id
from vigil.core.models import Camera, CameraModel, Region, Site, utcnow
from vigil.demo.outlines import town_outlines

__all__ = ["CAMERA_MIX", "DemoCity", "build_demo_city", "map_data_dir"]

PREFECTURE = ("5301", "昆明市")
CITY = ("530181", "安宁市")
TOWNS = ["锦江街道", "连然街道", "金方街道", "八街街道", "县街街道", "草铺街道", "青龙街道", "禄脿街道",
         "温泉街道", "太平街道", "麒麟镇", "凤凰镇", "龙泉镇", "清水镇", "石桥镇", "白塔镇"]
VILLAGES = 900
# The reference mix (sums to 20,547): kind -> count.
CAMERA_MIX: dict[str, int] = {
    "community_entrance": 3000,
    "gas_station": 480,
    "key_site": 4200,
    "public_area": 9000,
    "high_point": 160,
    "micro_checkpoint": 1800,
    "traffic_checkpoint": 1907,
}
MODELS = [
    # name, vendor, h, v, hfov, vfov, ir, form, cost
    ("Bullet-4MP-4mm", "generic", 2560, 1440, 90.0, 50.0, 50.0, "bullet", 900.0),
    ("Bullet-4MP-8mm", "generic", 2560, 1440, 44.0, 24.0, 80.0, "bullet", 1100.0),
    ("Dome-2MP-2.8mm", "generic", 1920, 1080, 105.0, 58.0, 30.0, "dome", 700.0),
    ("PTZ-2MP-25x", "generic", 1920, 1080, 60.0, 34.0, 150.0, "ptz", 6500.0),
    ("Panoramic-4x4MP", "generic", 10240, 1440, 360.0, 60.0, 60.0, "panoramic", 12000.0),
]
_MODEL_FOR_KIND = {"community_entrance": "Bullet-4MP-4mm", "gas_station": "Dome-2MP-2.8mm",
                   "key_site": "Bullet-4MP-4mm", "public_area": "Bullet-4MP-8mm", "high_point": "Panoramic-4x4MP",
                   "micro_checkpoint": "Dome-2MP-2.8mm", "traffic_checkpoint": "PTZ-2MP-25x"}
_OWNER_FOR_KIND = {"traffic_checkpoint": "traffic", "micro_checkpoint": "town", "public_area": "public_security",
                   "high_point": "public_security", "community_entrance": "project", "gas_station": "project",
                   "key_site": "public_security"}
CITY_CENTRE = (102.4777, 24.9196)
JINJIANG_CENTRE = (102.72109693748057, 25.068980352566612)

Progress = Callable[[str, int, int], None]


@dataclass
class DemoCity:
    """What was built."""

    regions: int = 0
    sites: int = 0
    cameras: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    real_map_town: str = ""
    real_communities: list[str] = field(default_factory=list)


def map_data_dir() -> Path:
    """The real map extracts shipped with the package (``vigil/demo/data``)."""
    return Path(__file__).resolve().parent / "data"


def scaled_mix(total: int) -> dict[str, int]:
    """The reference mix scaled to ``total`` cameras (largest remainders keep the sum exact)."""
    ref = sum(CAMERA_MIX.values())
    raw = {k: v * total / ref for k, v in CAMERA_MIX.items()}
    out = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - out[k], reverse=True)[: total - sum(out.values())]:
        out[k] += 1
    return out


def _offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    return (lon + east_m / (111_320 * math.cos(math.radians(lat))), lat + north_m / 110_540)


def _town_centres(rng: np.random.Generator) -> list[tuple[float, float]]:
    centres = [JINJIANG_CENTRE]
    for i in range(1, len(TOWNS)):
        ang = 2 * math.pi * i / (len(TOWNS) - 1)
        r = 9_000 + 9_000 * (i % 3) / 2
        centres.append(_offset(*CITY_CENTRE, r * math.cos(ang), r * math.sin(ang)))
    return centres


def _regions(rng: np.random.Generator) -> tuple[list[dict[str, Any]], list[tuple[str, str, float, float]]]:
    rows = [dict(code=PREFECTURE[0], name=PREFECTURE[1], level=1, parent_code=None, lon=102.83, lat=24.88),
            dict(code=CITY[0], name=CITY[1], level=2, parent_code=PREFECTURE[0], lon=CITY_CENTRE[0],
                 lat=CITY_CENTRE[1])]
    villages = []
    centres = _town_centres(rng)
    per_town = np.full(len(TOWNS), VILLAGES // len(TOWNS))
    per_town[: VILLAGES % len(TOWNS)] += 1
    for t, (name, (lon, lat)) in enumerate(zip(TOWNS, centres, strict=True), start=1):
        tcode = f"{CITY[0]}{t:02d}"
        rows.append(dict(code=tcode, name=name, level=3, parent_code=CITY[0], lon=lon, lat=lat))
        for j in range(int(per_town[t - 1])):
            urban = j < per_town[t - 1] // 4
            vcode = f"{tcode}{(j + 1) if urban else (200 + j):03d}"
            label = f"{name[:2]}第{j + 1}{'社区' if urban else '村'}"
            ang, r = rng.uniform(0, 2 * math.pi), rng.uniform(300, 4000)
            vlon, vlat = _offset(lon, lat, r * math.cos(ang), r * math.sin(ang))
            rows.append(dict(code=vcode, name=label, level=4, parent_code=tcode, lon=vlon, lat=vlat))
            villages.append((vcode, "community" if urban else "village", vlon, vlat))
    return rows, villages


def _real_communities(data: Path) -> list[tuple[str, dict[str, Any], float, float]]:
    """The Jinjiang compounds: (name, hull polygon as GeoJSON, lon, lat)."""
    path = data / "kunming_jinjiang" / "buildings.geojson"
    if not path.is_file():
        raise VigilError(f"the demo's real map is missing: {path} (reinstall vigil)")
    feats = json.loads(path.read_text(encoding="utf-8"))["features"]
    groups: dict[str, list[Any]] = {}
    for f in feats:
        name = (f.get("properties") or {}).get("community")
        if name:
            groups.setdefault(name, []).append(shape(f["geometry"]))
    out = []
    for name, geoms in sorted(groups.items()):
        hull = unary_union(geoms).convex_hull.buffer(0.00012)
        out.append((name, mapping(hull), hull.centroid.x, hull.centroid.y))
    if not out:
        raise VigilError(f"the demo's real map has no named communities: {path}")
    return out


_PER_TOWN_SITES = {"school": 6, "hospital": 2, "station": 2, "square": 3, "gas_station": 8, "crossroads": 12,
                   "government": 2}
_SITE_CLASS = {"school": 1, "hospital": 1, "station": 1, "government": 1, "gas_station": 2, "square": 2,
               "crossroads": 2, "residential": 2, "village": 3}
_SITE_NAMES = {"school": "学校", "hospital": "医院", "station": "车站", "square": "广场", "gas_station": "加油站",
               "crossroads": "路口", "government": "政府", "residential": "小区", "village": "村委会"}
_COMPOUNDS = 500


def _sites(rng: np.random.Generator, regions: list[dict[str, Any]],
           villages: list[tuple[str, str, float, float]], data: Path) -> tuple[list[Site], list[str]]:
    sites: list[Site] = []
    towns = [r for r in regions if r["level"] == 3]
    real = _real_communities(data)
    comm_villages = [v for v in villages if v[1] == "community"]
    town1_comms = [v for v in comm_villages if v[0].startswith(towns[0]["code"])]
    for i, (name, geom, lon, lat) in enumerate(real):
        region = town1_comms[i % len(town1_comms)][0]
        sites.append(Site(name=name, kind="residential", protection_class=2, region_code=region, geometry=geom,
                          lon=lon, lat=lat))
    for k in range(_COMPOUNDS - len(real)):
        vcode, _, vlon, vlat = comm_villages[k % len(comm_villages)]
        lon, lat = _offset(vlon, vlat, *rng.uniform(-600, 600, 2))
        sites.append(Site(name=f"{vcode[-5:]}{_SITE_NAMES['residential']}{k + 1}", kind="residential",
                          protection_class=2, region_code=vcode, geometry=_square(lon, lat, rng.uniform(80, 220)),
                          lon=lon, lat=lat))
    for vcode, kind, vlon, vlat in villages:
        if kind == "village":
            sites.append(Site(name=f"{vcode}{_SITE_NAMES['village']}", kind="village", protection_class=3,
                              region_code=vcode, geometry=_square(vlon, vlat, 300), lon=vlon, lat=vlat))
    for t in towns:
        for kind, n in _PER_TOWN_SITES.items():
            for j in range(n):
                lon, lat = _offset(t["lon"], t["lat"], *rng.uniform(-2500, 2500, 2))
                size = 40 if kind == "crossroads" else rng.uniform(60, 200)
                sites.append(Site(name=f"{t['name']}{_SITE_NAMES[kind]}{j + 1}", kind=kind,
                                  protection_class=_SITE_CLASS[kind], sensitive=kind == "government",
                                  region_code=t["code"], geometry=_square(lon, lat, size), lon=lon, lat=lat))
    return sites, [r[0] for r in real]


def _square(lon: float, lat: float, size_m: float) -> dict[str, Any]:
    h = size_m / 2
    pts = [_offset(lon, lat, dx, dy) for dx, dy in ((-h, -h), (h, -h), (h, h), (-h, h), (-h, -h))]
    return {"type": "Polygon", "coordinates": [[list(p) for p in pts]]}


def _anchors(kind: str, sites: list[Site], regions: list[dict[str, Any]]) -> list[tuple[int | None, str, float,
                                                                                         float, float]]:
    """Where cameras of ``kind`` go: (site id, region, lon, lat, spread in metres)."""
    by_kind: dict[str, list[Site]] = {}
    for s in sites:
        by_kind.setdefault(s.kind, []).append(s)
    towns = [r for r in regions if r["level"] == 3]
    villages = [r for r in regions if r["level"] == 4]

    def of(*kinds: str, spread: float) -> list[tuple[int | None, str, float, float, float]]:
        return [(s.id, s.region_code, s.lon, s.lat, spread) for k in kinds for s in by_kind.get(k, [])
                if s.lon is not None and s.lat is not None]  # every demo site is placed: this only narrows

    return {
        "community_entrance": lambda: of("residential", spread=90),
        "gas_station": lambda: of("gas_station", spread=30),
        "key_site": lambda: of("school", "hospital", "station", "government", spread=80),
        "public_area": lambda: of("square", "crossroads", spread=120)
        + [(None, t["code"], t["lon"], t["lat"], 3000.0) for t in towns],
        "high_point": lambda: [(None, t["code"], t["lon"], t["lat"], 2500.0) for t in towns],
        "micro_checkpoint": lambda: [(None, v["code"], v["lon"], v["lat"], 200.0) for v in villages],
        "traffic_checkpoint": lambda: of("crossroads", spread=25),
    }[kind]()


def _camera_rows(rng: np.random.Generator, mix: dict[str, int], sites: list[Site], regions: list[dict[str, Any]],
                 v: Vigil, real: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Camera rows; those at a real community (town 1) are named after it, e.g. ``金色年华-小区出入口-1``."""
    named = {s.id: s.name for s in sites if s.name in set(real)}
    per_site: dict[int, int] = {}
    model_ids = {}
    serials: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    now = utcnow()
    with v.db.session() as s:
        model_ids = dict(s.execute(select(CameraModel.name, CameraModel.id)).all())
    for kind, count in mix.items():
        anchors = _anchors(kind, sites, regions)
        picks = np.arange(count) % len(anchors)
        for n, a in enumerate(picks):
            site_id, region, alon, alat, spread = anchors[a]
            lon, lat = _offset(alon, alat, *rng.uniform(-spread, spread, 2))
            centre = region[:8]
            serials[centre] = serials.get(centre, 0) + 1
            industry = {"community_entrance": 1, "traffic_checkpoint": 5}.get(kind, 0)
            cid = generate_device_id(region, serials[centre], industry=industry).value
            i = len(rows)
            host = f"127.{10 + i // 62500}.{(i // 250) % 250 + 1}.{i % 250 + 1}"
            if site_id in named:
                per_site[site_id] = per_site.get(site_id, 0) + 1
                name = f"{named[site_id]}-{_KIND_LABEL[kind]}-{per_site[site_id]}"
            else:
                name = f"{_KIND_LABEL[kind]}-{region[-5:]}-{n + 1}"
            rows.append(dict(
                id=cid, name=name, region_code=region, site_id=site_id,
                lon=round(lon, 7), lat=round(lat, 7), height_m=float(rng.choice([3.5, 4.0, 5.0, 6.0, 8.0]))
                if kind != "high_point" else 40.0, heading_deg=float(rng.integers(0, 360)),
                tilt_deg=float(rng.integers(8, 30)), model_id=model_ids[_MODEL_FOR_KIND[kind]], kind=kind,
                owner=_OWNER_FOR_KIND[kind], lifecycle="in_service" if rng.random() > 0.01 else "installed",
                main_url=f"rtsp://{host}:8554/Streaming/Channels/101",
                sub_url=f"rtsp://{host}:8554/Streaming/Channels/102", username="admin",
                created_at=now - timedelta(days=int(rng.integers(30, 2000))), updated_at=now))
    return rows


_KIND_LABEL = {"community_entrance": "小区出入口", "gas_station": "加油站", "key_site": "重点部位",
               "public_area": "公共区域", "high_point": "高点", "micro_checkpoint": "微卡口",
               "traffic_checkpoint": "交通卡口"}


def camera_password(camera_id: str) -> str:
    """The demo fleet's password of a camera (deterministic, so the simulator can serve it)."""
    import hashlib

    return hashlib.sha256(f"vigil-demo:{camera_id}".encode()).hexdigest()[:12]


def build_demo_city(v: Vigil, *, cameras: int = sum(CAMERA_MIX.values()), seed: int = 7,
                    data: Path | None = None, progress: Progress | None = None) -> DemoCity:
    """Create the demo city's regions, camera models, sites and cameras in an empty registry."""
    say = progress or (lambda stage, done, total: None)
    rng = np.random.default_rng(seed)
    data = data or map_data_dir()
    with v.db.session() as s:
        if s.scalar(select(Camera.id).limit(1)) is not None:
            raise ConflictError("the registry already has cameras; the demo city needs an empty one")
        have = set(s.scalars(select(Region.code)))
        regions, villages = _regions(rng)
        s.execute(insert(Region), [r for r in regions if r["code"] not in have])
        s.add_all(CameraModel(name=m[0], vendor=m[1], h_res_px=m[2], v_res_px=m[3], hfov_deg=m[4],
                              vfov_deg=m[5], ir_range_m=m[6], form_factor=m[7], unit_cost=m[8]) for m in MODELS
                  if s.scalar(select(CameraModel.id).where(CameraModel.name == m[0])) is None)
        say("regions", len(regions), len(regions))
        sites, real = _sites(rng, regions, villages, data)
        s.add_all(sites)
        s.flush()
        for code, outline in town_outlines([r for r in regions if r["level"] == 3], sites).items():
            s.execute(update(Region).where(Region.code == code).values(outline=outline))
        say("sites", len(sites), len(sites))
    rows = _camera_rows(rng, scaled_mix(cameras), sites, regions, v, real)
    for r in rows:
        r["password_enc"] = v.box.seal(camera_password(r["id"]))
    with v.db.session() as s:
        step = 2000
        for i in range(0, len(rows), step):
            s.execute(insert(Camera), rows[i:i + step])
            say("cameras", min(i + step, len(rows)), len(rows))
    by_kind: dict[str, int] = {}
    for r in rows:
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + 1
    return DemoCity(regions=len(regions), sites=len(sites), cameras=len(rows), by_kind=by_kind,
                    real_map_town=f"{CITY[0]}01", real_communities=real)
