"""The eagle-eye part of a plan's report: which high points were chosen, what they cover, and the check.

Every (target, pose) pair the planner claims for a chosen rooftop or tower camera is re-checked by the
independent 2.5-D line-of-sight test of :mod:`vigil.coverage.sightline`, and so are the pairs of an even
sample of the other high-point candidates (every k-th pose, up to ``SAMPLE_PAIRS`` pairs); the summary
quotes how many it confirms.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from vigil.coverage.sightline import HeightMap, verify_claims

if TYPE_CHECKING:
    from vigil.coverage.plan import PlanResult

__all__ = ["EAGLE_MOUNTS", "LOS_CELL_M", "high_point_summary", "high_points_html"]

EAGLE_MOUNTS = ("rooftop", "tower")
LOS_CELL_M = 0.25
SAMPLE_PAIRS = 20_000
MAX_CELLS = 25_000_000  # a larger area gets a coarser raster (the summary says which)


def high_point_summary(res: PlanResult, ids: dict[int, str]) -> dict[str, Any]:
    """The chosen high points (``ids``: pose index -> camera id in plan.geojson) and the sight-line check."""
    poses, p = res.poses, res.plan
    mount = poses.mount.astype(str)
    cand = np.flatnonzero(np.isin(mount, EAGLE_MOUNTS) & ~poses.fixed)
    chosen = [int(j) for j in p.chosen if mount[j] in EAGLE_MOUNTS]
    a = sparse.csc_matrix(res.matrix)
    nnz = np.diff(a.indptr)
    stride = max(int(np.ceil(nnz[cand].sum() / SAMPLE_PAIRS)), 1) if len(cand) else 1
    check = sorted(set(cand[::stride].tolist()) | set(chosen))
    hm = _raster(res, a, check)
    kw = dict(cam_xy=poses.xy, cam_h=poses.height, specs=res.specs, models=poses.model, target_xy=res.targets.xy,
              target_ppm=res.targets.ppm, hm=hm)
    every = verify_claims(a, check, **kw)  # type: ignore[arg-type]
    rows = []
    for j in chosen:
        spec = res.specs[poses.model[j]]
        seen = a.indices[a.indptr[j]:a.indptr[j + 1]]
        claimed, confirmed = every.per_pose.get(j, (0, 0))
        rows.append({"id": ids.get(j, ""), "mount": mount[j], "model": spec.name, "form_factor": spec.form_factor,
                     "height_m": round(float(poses.height[j]), 1), "heading_deg": round(float(poses.heading[j]), 1),
                     "tilt_deg": round(float(res.tilts[j]), 1), "presets": spec.presets,
                     "tour_period_s": spec.tour_period_s, "dwell_fraction": round(spec.dwell_fraction, 3),
                     "targets": int(len(seen)), "targets_only_here": int((p.count[seen] == 1).sum()),
                     "los_confirmed": confirmed, "cost": float(poses.cost[j])})
    chosen_pairs = sum(r["targets"] for r in rows)
    chosen_ok = sum(r["los_confirmed"] for r in rows)
    return {"candidates": {"rooftop": int((mount[cand] == "rooftop").sum()), "tower": int((mount[cand] == "tower").sum())},
            "sites": int(len(np.unique(np.round(poses.xy[cand], 2), axis=0))) if len(cand) else 0,
            "chosen": rows, "los_check": {"cell_m": round(hm.cell, 3), "sampled_poses": len(every.per_pose), "pairs": every.pairs, "confirmed": every.confirmed,
                                          "agreement": round(every.agreement, 5), "chosen_pairs": chosen_pairs,
                                          "chosen_confirmed": chosen_ok}}


def _raster(res: PlanResult, a: sparse.csc_matrix, poses: list[int]) -> HeightMap:
    """The height raster over the checked cameras and the targets they claim, coarser if it is very large."""
    rows: np.ndarray | list[int] = np.unique(np.concatenate([a.indices[a.indptr[j]:a.indptr[j + 1]] for j in poses])) if poses else []
    pts = np.vstack([res.poses.xy[poses], res.targets.xy[rows]]) if len(poses) else np.zeros((1, 2))
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    cell = max(LOS_CELL_M, float(np.sqrt((x1 - x0 + 10) * (y1 - y0 + 10) / MAX_CELLS)))
    return HeightMap.rasterise(res.buildings.polygons, res.buildings.heights, cell=cell,
                               bounds=(float(x0), float(y0), float(x1), float(y1)))


def high_points_html(s: dict[str, Any]) -> str:
    """The report's "Eagle-eye high points" section ('' when the plan had none)."""
    hp = s.get("high_points")
    if not hp:
        return ""
    e = html.escape
    chk = hp["los_check"]
    rows = "".join(
        f"<tr><td>{e(r['id'])}</td><td>{e(r['mount'])}</td><td>{e(r['model'])}</td><td>{r['height_m']}</td>"
        f"<td>{_tour(r)}</td><td>{r['targets']}</td><td>{r['targets_only_here']}</td>"
        f"<td>{r['los_confirmed']}</td><td>{r['cost']:.0f}</td></tr>" for r in hp["chosen"])
    table = (f"<table><tr><th>camera</th><th>mount</th><th>model</th><th>height (m)</th><th>tour</th>"
             f"<th>targets</th><th>only it covers</th><th>line of sight confirmed</th><th>cost</th></tr>{rows}</table>"
             if rows else "<p>No high point was chosen: ground cameras cover the targets for less.</p>")
    return (f"<h2>Eagle-eye high points</h2><p>{hp['candidates']['rooftop']} rooftop and "
            f"{hp['candidates']['tower']} tower candidate poses on {hp['sites']} sites; {len(hp['chosen'])} chosen. "
            f"A PTZ tour counts a target only when it is in view at least {s.get('min_dwell_fraction', 0.2):.0%} "
            f"of the tour's period. The independent 2.5-D line-of-sight check ({chk['cell_m']} m height raster) "
            f"confirms {chk['confirmed']} of {chk['pairs']} claimed target–camera pairs of {chk['sampled_poses']} "
            f"high-point poses (the chosen ones and an even sample of the candidates) "
            f"({100 * chk['agreement']:.2f} %), {chk['chosen_confirmed']} of {chk['chosen_pairs']} for the chosen "
            f"ones.</p>{table}")


def _tour(r: dict[str, Any]) -> str:
    if r["presets"] <= 1:
        return "fixed" if r["form_factor"] != "panoramic" else "360°"
    return f"{r['presets']} presets, {r['tour_period_s']:.0f} s, each {100 * r['dwell_fraction']:.0f} % in view"
