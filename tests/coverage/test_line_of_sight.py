"""The planner's claimed coverage, re-checked by an independent computation.

This check shares no code with the planner: it reads the output GeoJSON files and the raw building file,
projects with pyproj itself, and tests each claimed sight line by sampling points along it against the
footprints (shapely) and the building heights, with its own pixel-density, field-of-view and dead-zone maths.
"""

import json
import math

import numpy as np
import pytest
import shapely
from pyproj import Transformer

TARGET_H = 1.5


def _utm(lon: float, lat: float) -> Transformer:
    zone = int((lon + 180) // 6) + 1
    return Transformer.from_crs(4326, 32600 + zone if lat >= 0 else 32700 + zone, always_xy=True)


def _load(path, tr):
    feats = json.loads(path.read_text())["features"]
    xy = np.array([tr.transform(*f["geometry"]["coordinates"]) for f in feats])
    return xy, [f["properties"] for f in feats]


def _buildings(path, tr):
    polys, heights = [], []
    for f in json.loads(path.read_text())["features"]:
        ring = [tr.transform(x, y) for x, y in f["geometry"]["coordinates"][0]]
        polys.append(shapely.make_valid(shapely.Polygon(ring)))
        heights.append(float(f["properties"].get("height") or 10.0))
    return polys, np.array(heights)


def _sees(cam, cxy, txy, need_ppm, polys, heights, tree) -> bool:
    dx, dy = txy - cxy
    r = math.hypot(dx, dy)
    h = cam["height_m"]
    f_px = (cam["h_res_px"] / 2) / math.tan(math.radians(cam["hfov_deg"]) / 2)
    if f_px / math.hypot(r, h - TARGET_H) < need_ppm * (1 - 1e-9):
        return False
    bearing = math.degrees(math.atan2(dx, dy)) % 360
    off = abs((bearing - cam["heading_deg"] + 180) % 360 - 180)
    if off > cam["hfov_deg"] / 2 + 1e-9:
        return False
    if r < (h - TARGET_H) / math.tan(math.radians(cam["tilt_deg"] + cam["vfov_deg"] / 2)) - 1e-9:
        return False
    n = max(int(r / 0.1), 2)
    t = np.linspace(0, 1, n + 1)[1:-1]
    px, py = cxy[0] + dx * t, cxy[1] + dy * t
    line_h = h - (h - TARGET_H) * t
    seg = shapely.LineString([cxy, txy])
    for b in tree.query(seg, predicate="intersects"):
        inside = shapely.contains_xy(polys[b], px, py)
        if np.any(inside & (heights[b] >= line_h)):
            return False
    return True


def test_claimed_coverage_holds_by_independent_line_of_sight(community_plan, kunming_community):
    _, out, _ = community_plan
    lon0, lat0 = json.loads((out / "plan.geojson").read_text())["features"][0]["geometry"]["coordinates"]
    tr = _utm(lon0, lat0)
    cxy, cams = _load(out / "plan.geojson", tr)
    txy, tprops = _load(out / "targets.geojson", tr)
    polys, heights = _buildings(kunming_community, tr)
    tree = shapely.STRtree(polys)
    claimed = [i for i, p in enumerate(tprops) if p["covered_after"]]
    assert len(claimed) > 500
    unconfirmed = []
    for i in claimed:
        d = np.hypot(*(cxy - txy[i]).T)
        if not any(_sees(cams[j], cxy[j], txy[i], tprops[i]["required_ppm"], polys, heights, tree)
                   for j in np.argsort(d)[:40]):
            unconfirmed.append(i)
    assert unconfirmed == []
    # and the uncovered ones are really not seen by any planned camera
    for i in (i for i, p in enumerate(tprops) if not p["covered_after"]):
        assert not any(_sees(cams[j], cxy[j], txy[i], tprops[i]["required_ppm"], polys, heights, tree)
                       for j in range(len(cams)))


@pytest.mark.parametrize(("cam_xy", "target", "seen"), [((0.0, -20.0), (0.0, 20.0), False), ((-20.0, 0.0), (-5.0, 8.0), True)])
def test_the_checker_itself(cam_xy, target, seen):
    box = shapely.box(-5, -5, 5, 5)
    cam = {"height_m": 4.0, "h_res_px": 2560, "hfov_deg": 90.0, "heading_deg": math.degrees(math.atan2(
        target[0] - cam_xy[0], target[1] - cam_xy[1])) % 360, "tilt_deg": 10.0, "vfov_deg": 58.7}
    got = _sees(cam, np.array(cam_xy), np.array(target), 25.0, [box], np.array([10.0]), shapely.STRtree([box]))
    assert got is seen
