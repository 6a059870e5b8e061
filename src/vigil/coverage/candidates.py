"""Candidate camera poses: wall mounts on facades, poles along ways, entrances and high points.

Each site gets several headings and every catalog model allowed on its mount. Existing cameras
become fixed poses with their own heading and tilt.

With ``eagle_eye`` a town centre also gets its eagle-eye high points: ``rooftop`` sites on the roofs of
the tallest buildings (a mast in the middle of the roof and posts just inside its outer corners, spread
at least ``rooftop_spacing`` apart) and ``tower`` sites on OSM towers and masts. A roof so high that no
rooftop model reaches ``ROOFTOP_MIN_REACH_M`` of ground at the plan's ``ppm`` is passed over. A PTZ tour
model gets one pose per tour heading and per aim (``TOUR_AIMS`` of its ground range at ``ppm``), its tilt
fixed by the aim.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from vigil.core.errors import InputError
from vigil.coverage.geo import Buildings, Feature
from vigil.coverage.optics import TARGET_HEIGHT_M, CameraSpec, Catalog, horizontal_range_m
from vigil.coverage.visibility import Poses

__all__ = ["HIGH_MOUNTS", "CandidateOptions", "existing_poses", "make_candidates"]

WALL_OFFSET_M = 0.5
ENTRANCE_STANDOFF_M = 6.0
HIGH_POINT_MIN_M = 15.0
ROOFTOP_INSET_M = 1.0  # a rooftop post stands this far inside the roof's edge
TOWER_DEFAULT_M = 25.0  # a tower or mast without a height tag
TOUR_AIMS = (0.4, 0.65, 0.9)  # a PTZ tour aims at these shares of its ground range
ROOFTOP_MIN_REACH_M = 30.0
HIGH_MOUNTS = ("high_point", "rooftop", "tower")


@dataclass(frozen=True, slots=True)
class CandidateOptions:
    """How densely to place candidate sites."""

    wall_spacing: float = 15.0
    pole_spacing: float = 20.0
    headings: int = 8
    high_points_per_community: int = 1
    eagle_eye: bool = False  # rooftop and tower high points of a town centre
    rooftops: int = 6  # tallest buildings that get rooftop sites
    rooftop_min_m: float = 20.0  # no rooftop site on a lower building
    rooftop_spacing: float = 60.0  # metres between the chosen rooftop buildings
    ppm: float = 62.5  # the plan's pixel density: sets the tour tilts and which roofs are not too high


def _wall_sites(b: Buildings, spacing: float, cap: float) -> tuple[np.ndarray, np.ndarray]:
    xy, h = [], []
    for poly, bh in zip(b.polygons, b.heights, strict=True):
        ring = shapely.geometry.polygon.orient(poly, 1.0).exterior
        c = np.asarray(ring.coords)
        seg = c[1:] - c[:-1]
        length = np.hypot(seg[:, 0], seg[:, 1])
        cum = np.concatenate([[0.0], np.cumsum(length)])
        n = max(int(cum[-1] // spacing), 1)
        d = (np.arange(n) + 0.5) * cum[-1] / n
        k = np.clip(np.searchsorted(cum, d, side="right") - 1, 0, len(seg) - 1)
        frac = (d - cum[k]) / np.where(length[k] > 0, length[k], 1)
        p = c[k] + seg[k] * frac[:, None]
        normal = np.column_stack([seg[k, 1], -seg[k, 0]]) / np.where(length[k] > 0, length[k], 1)[:, None]
        xy.append(p + normal * WALL_OFFSET_M)
        h.append(np.full(n, min(cap, float(bh))))
    return (np.vstack(xy), np.concatenate(h)) if xy else (np.zeros((0, 2)), np.zeros(0))


def _pole_sites(roads: list[shapely.Geometry], grounds: list[shapely.Geometry], spacing: float) -> np.ndarray:
    pts = []
    for line in roads:
        n = max(int(line.length // spacing), 0)
        pts.append(shapely.get_coordinates(shapely.line_interpolate_point(line, np.arange(n + 1) * spacing)))
    for g in grounds:  # no roads: a coarse grid over the open ground
        xmin, ymin, xmax, ymax = g.bounds
        gx, gy = np.meshgrid(np.arange(xmin + spacing / 2, xmax, spacing), np.arange(ymin + spacing / 2, ymax, spacing))
        xy = np.column_stack([gx.ravel(), gy.ravel()])
        pts.append(xy[shapely.contains_xy(g, xy[:, 0], xy[:, 1])])
    return np.vstack(pts) if pts else np.zeros((0, 2))


def _high_sites(b: Buildings, per_community: int, extra: float) -> tuple[np.ndarray, np.ndarray]:
    if per_community <= 0 or len(b) == 0:
        return np.zeros((0, 2)), np.zeros(0)
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(b.communities):
        groups.setdefault(c, []).append(i)
    xy, h = [], []
    for idx in groups.values():
        tall = sorted(idx, key=lambda i: -b.heights[i])[:per_community]
        for i in tall:
            if b.heights[i] < HIGH_POINT_MIN_M:
                continue
            hull = shapely.convex_hull(b.polygons[i])
            corners = np.asarray(hull.exterior.coords)[:-1]
            centre = np.asarray(hull.centroid.coords)[0]
            away = corners - centre
            away /= np.maximum(np.hypot(away[:, 0], away[:, 1]), 1e-9)[:, None]
            step = max(len(corners) // 4, 1)
            xy.append(corners[::step] + away[::step] * WALL_OFFSET_M)
            h.append(np.full(len(corners[::step]), float(b.heights[i]) + extra))
    return (np.vstack(xy), np.concatenate(h)) if xy else (np.zeros((0, 2)), np.zeros(0))


def _rooftop_sites(b: Buildings, opts: CandidateOptions, area: shapely.Geometry, above: float,
                   specs: list[CameraSpec]) -> tuple[np.ndarray, np.ndarray]:
    """Sites on the roofs of the tallest buildings: the roof's middle and posts inside its outer corners."""
    chosen: list[int] = []
    for i in np.argsort(-b.heights, kind="stable"):
        if len(chosen) >= opts.rooftops or b.heights[i] < opts.rooftop_min_m:
            break
        reach = max((horizontal_range_m(s.f_px, opts.ppm, float(b.heights[i]) + above) for s in specs), default=0.0)
        if reach < ROOFTOP_MIN_REACH_M:
            continue
        poly = b.polygons[i]
        mid = shapely.point_on_surface(poly)
        if not area.contains(mid) or any(shapely.distance(b.polygons[k], poly) < opts.rooftop_spacing for k in chosen):
            continue
        chosen.append(int(i))
    xy, h = [], []
    for i in chosen:
        poly = b.polygons[i]
        c = np.asarray(shapely.convex_hull(poly).exterior.coords)[:-1]
        centre = np.asarray(poly.centroid.coords)[0]
        corners = [c[np.argmax(c @ d)] for d in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
        pts = [np.asarray(shapely.point_on_surface(poly).coords)[0]]
        for q in corners:
            inward = (centre - q) / max(float(np.hypot(*(centre - q))), 1e-9)
            p = q + inward * ROOFTOP_INSET_M
            if poly.contains(shapely.Point(p)) and all(np.hypot(*(p - o)) > 2.0 for o in pts):
                pts.append(p)
        xy.append(np.asarray(pts))
        h.append(np.full(len(pts), float(b.heights[i]) + above))
    return (np.vstack(xy), np.concatenate(h)) if xy else (np.zeros((0, 2)), np.zeros(0))


def _tower_sites(towers: list[Feature], b: Buildings, below: float) -> tuple[np.ndarray, np.ndarray]:
    """Towers and masts (local points with an optional ``height``), mounted ``below`` their top."""
    if not towers:
        return np.zeros((0, 2)), np.zeros(0)
    tree = shapely.STRtree(b.polygons) if len(b) else None
    xy, h = [], []
    for f in towers:
        top = float(f.props.get("height") or TOWER_DEFAULT_M)
        roof = 0.0
        if tree is not None:
            under = tree.query(f.geom, predicate="intersects")
            roof = float(b.heights[under].max()) if len(under) else 0.0
        xy.append((f.geom.x, f.geom.y))
        h.append(max(top - below, roof + 1.0))
    return np.asarray(xy, float), np.asarray(h, float)


def _entrance_sites(points: list[Feature]) -> np.ndarray:
    off = ENTRANCE_STANDOFF_M * np.array([[0, 1], [1, 0], [0, -1], [-1, 0]])
    return np.vstack([np.array([f.geom.x, f.geom.y]) + off for f in points]) if points else np.zeros((0, 2))


def make_candidates(b: Buildings, catalog: Catalog, *, roads: list[shapely.Geometry], grounds: list[shapely.Geometry],
                    entrances: list[Feature], area: shapely.Geometry, opts: CandidateOptions,
                    towers: list[Feature] | None = None) -> Poses:
    """All candidate poses (site x heading x allowed model), outside buildings and inside ``area``.

    ``towers`` (local points, used with ``opts.eagle_eye``) are OSM towers and masts.
    """
    if opts.headings < 1:
        raise InputError("--headings must be at least 1")
    hh = catalog.heights
    wall_xy, wall_h = _wall_sites(b, opts.wall_spacing, hh["wall"])
    high_xy, high_h = _high_sites(b, opts.high_points_per_community, hh["high_point"])
    pole_xy = _pole_sites(roads, grounds, opts.pole_spacing)
    ent_xy = _entrance_sites(entrances)
    sites = [("wall", wall_xy, wall_h), ("pole", pole_xy, np.full(len(pole_xy), hh["pole"])),
             ("entrance", ent_xy, np.full(len(ent_xy), hh["entrance"])), ("high_point", high_xy, high_h)]
    if opts.eagle_eye:
        roof_specs = [catalog.models[m] for m in catalog.for_mount("rooftop")]
        sites += [("rooftop", *_rooftop_sites(b, opts, area, hh["rooftop"], roof_specs)),
                  ("tower", *_tower_sites(towers or [], b, hh["tower"]))]
    blocked = shapely.union_all([shapely.buffer(p, 0.2) for p in b.polygons])
    shapely.prepare(blocked)
    shapely.prepare(area)
    cols: dict[str, list] = {k: [] for k in ("xy", "height", "heading", "tilt", "model", "mount", "cost")}
    headings = np.arange(opts.headings) * 360.0 / opts.headings
    for mount, xy, h in sites:
        if len(xy) == 0:
            continue
        keep = shapely.contains_xy(area, xy[:, 0], xy[:, 1])
        if mount not in HIGH_MOUNTS:
            keep &= ~shapely.contains_xy(blocked, xy[:, 0], xy[:, 1])
        xy, h = xy[keep], h[keep]
        for m in catalog.for_mount(mount):
            _add_model(cols, catalog.models[m], m, mount, xy, h, headings, opts.ppm)
    if not cols["xy"]:
        return _empty_poses()
    n = sum(len(a) for a in cols["cost"])
    return Poses(np.vstack(cols["xy"]), np.concatenate(cols["height"]), np.concatenate(cols["heading"]),
                 np.concatenate(cols["tilt"]), np.concatenate(cols["model"]).astype(np.int64),
                 np.concatenate(cols["mount"]), np.concatenate(cols["cost"]), np.zeros(n, dtype=bool),
                 np.full(n, "", dtype=object))


def _add_model(cols: dict[str, list], spec: CameraSpec, m: int, mount: str, xy: np.ndarray, h: np.ndarray,
               headings: np.ndarray, ppm: float) -> None:
    """Poses of model ``m`` at every site: one per heading (none for 360°), and per aim for a PTZ tour."""
    hd = np.array([0.0]) if spec.hfov_deg >= 359.9 or spec.preset_step_deg * spec.presets >= 359.9 else headings
    site = np.repeat(np.arange(len(xy)), len(hd))
    heading = np.tile(hd, len(xy))
    tilt = np.full(len(site), np.nan)
    if spec.presets > 1:  # a tour at a fixed tilt per aim; sites out of reach at ``ppm`` get none
        reach = np.array([horizontal_range_m(spec.f_px, ppm, float(z)) for z in h])
        site, heading = site[reach[site] > 0], heading[reach[site] > 0]
        aims = np.asarray(TOUR_AIMS)
        site, heading = np.repeat(site, len(aims)), np.repeat(heading, len(aims))
        dh = np.maximum(h[site] - TARGET_HEIGHT_M, 0.0)
        tilt = np.degrees(np.arctan2(dh, np.maximum(np.tile(aims, len(site) // len(aims)) * reach[site], 0.1)))
    n = len(site)
    cols["xy"].append(xy[site])
    cols["height"].append(h[site])
    cols["heading"].append(heading)
    cols["tilt"].append(tilt)
    cols["model"].append(np.full(n, m))
    cols["mount"].append(np.full(n, mount, dtype=object))
    cols["cost"].append(np.full(n, spec.cost))


def _empty_poses() -> Poses:
    z = np.zeros(0)
    return Poses(np.zeros((0, 2)), z, z, z, np.zeros(0, np.int64), np.zeros(0, dtype=object), z,
                 np.zeros(0, dtype=bool), np.zeros(0, dtype=object))


def existing_poses(points: list[Feature], catalog: Catalog) -> tuple[Poses, list[CameraSpec]]:
    """Existing cameras as fixed poses; a model not in the catalog is described by its own properties."""
    specs = list(catalog.models)
    rows = []
    for i, f in enumerate(points):
        pr = f.props
        name = str(pr.get("model") or "")
        names = [s.name for s in specs]
        if name in names:
            m = names.index(name)
        elif pr.get("h_res_px") and pr.get("hfov_deg"):
            specs.append(CameraSpec.from_dict({**pr, "name": name or f"existing-{i}", "cost": 0}))
            m = len(specs) - 1
        else:
            raise InputError(f"existing camera {pr.get('id', i)}: give 'model' from the catalog or h_res_px and hfov_deg")
        tilt = pr.get("tilt_deg")
        rows.append((f.geom.x, f.geom.y, float(pr.get("height_m") or 4.0), float(pr.get("heading_deg") or 0.0),
                     float(tilt) if tilt is not None else np.nan, m, str(pr.get("id") or f"existing-{i}")))
    if not rows:
        return _empty_poses(), specs
    a = list(zip(*rows, strict=True))
    n = len(rows)
    return Poses(np.column_stack([a[0], a[1]]), np.array(a[2]), np.array(a[3]), np.array(a[4], float),
                 np.array(a[5], np.int64), np.full(n, "existing", dtype=object), np.zeros(n), np.ones(n, dtype=bool),
                 np.array(a[6], dtype=object)), specs
