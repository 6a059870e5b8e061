"""Plan outputs: summary.json, plan.geojson, targets.geojson, map.png, tradeoff.png and report.html."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from vigil.charts import report_fonts
from vigil.coverage.geo import geojson_dump
from vigil.coverage.highpoints import EAGLE_MOUNTS, high_point_summary, high_points_html
from vigil.coverage.optics import dead_zone_m
from vigil.coverage.optimize import gap_words
from vigil.coverage.visibility import fov_wedge, visibility_polygon
from vigil.i18n import translate_line, translator

if TYPE_CHECKING:
    from vigil.coverage.plan import PlanRequest, PlanResult

__all__ = ["map_figure", "scale_bar_m", "summarise", "write_outputs"]

ATTRIBUTION = "Map data © OpenStreetMap contributors, ODbL 1.0"


def _f(x: float, nd: int = 4) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), nd)


def summarise(res: PlanResult, req: PlanRequest, ppm: float) -> dict[str, Any]:
    """The summary with the keys the issue fixes (and a few more)."""
    p, t = res.plan, res.targets
    n = max(len(t), 1)
    comms = []
    for i, c in enumerate(res.communities):
        m = t.community == i
        k = int(m.sum())
        comms.append({"name": c.name, "targets": k,
                      "coverage_before": _f((p.count_before[m] > 0).sum() / k) if k else None,
                      "coverage_after": _f((p.count[m] > 0).sum() / k) if k else None})
    mode = "k-coverage" if req.k > 1 else ("max-coverage" if req.target is None else "min-cost")
    out = {
        "name": req.name or req.area.stem, "level": req.level, "profile": req.profile, "ppm": ppm, "mode": mode,
        "k": req.k, "target_share": req.target, "budget": req.budget, "night": req.night,
        "targets": len(t), "coverable": int(p.coverable.sum()), "blind_spots": int((~p.coverable).sum()),
        "coverage_before": _f((p.count_before > 0).sum() / n), "coverage_after": _f((p.count > 0).sum() / n),
        "coverage_after_k": _f((p.count >= req.k).sum() / n),
        "cameras_existing": int(res.poses.fixed.sum()), "cameras_new": len(p.chosen), "cost_new": _f(p.cost, 2),
        "lower_bound": _f(p.lower_bound, 3), "gap": _f(p.gap, 5), "solver": p.solver, "status": p.status,
        "gap_words": gap_words(p.gap, p.status)[0], "gap_warning": gap_words(p.gap, p.status)[1],
        "time_limit_hit": p.time_limit_hit, "solve_log": [step.as_dict() for step in p.log],
        "greedy_cameras": int(p.stats.get("greedy_count", 0)), "greedy_cost": _f(p.stats.get("greedy_cost", 0), 2),
        "candidates": int((~res.poses.fixed).sum()), "buildings": len(res.buildings),
        "seconds": {}, "communities": comms, "warnings": list(res.buildings.warnings),
        "crs": res.frame.crs.to_string(), "attribution": ATTRIBUTION, "eagle_eye": req.eagle_eye,
    }
    if req.eagle_eye:
        from vigil.coverage.optics import load_catalog

        out["min_dwell_fraction"] = load_catalog(req.catalog).min_dwell_fraction
        out["high_points"] = high_point_summary(res, {int(j): f"new-{k + 1:04d}" for k, j in enumerate(p.chosen)})
    return out


def _camera_features(res: PlanResult) -> list[dict[str, Any]]:
    p, poses = res.plan, res.poses
    idx = np.concatenate([np.flatnonzero(poses.fixed), p.chosen])
    lon, lat = res.frame.lonlat(poses.xy[idx, 0], poses.xy[idx, 1])
    feats = []
    for n, (j, x, y) in enumerate(zip(idx, lon, lat, strict=True)):
        spec = res.specs[poses.model[j]]
        new = not poses.fixed[j]
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]},
                      "properties": {
                          "id": f"new-{n - int(poses.fixed.sum()) + 1:04d}" if new else str(poses.ref[j]),
                          "status": "new" if new else "existing", "model": spec.name, "h_res_px": spec.h_res_px,
                          "v_res_px": spec.v_res_px, "hfov_deg": spec.hfov_deg, "vfov_deg": round(spec.vfov_deg, 2),
                          "height_m": round(float(poses.height[j]), 2), "heading_deg": round(float(poses.heading[j]), 1),
                          "tilt_deg": round(float(res.tilts[j]), 1), "range_m": round(float(res.ranges[j]), 1),
                          "cost": float(poses.cost[j]), "mount": str(poses.mount[j]),
                          "form_factor": spec.form_factor}})
    return feats


def _target_features(res: PlanResult) -> list[dict[str, Any]]:
    t, p = res.targets, res.plan
    lon, lat = res.frame.lonlat(t.xy[:, 0], t.xy[:, 1])
    names = [c.name for c in res.communities]
    return [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]},
             "properties": {"required_ppm": float(t.ppm[i]), "covered_before": bool(p.count_before[i] > 0),
                            "covered_after": bool(p.count[i] > 0), "cameras": int(p.count[i]),
                            "blind_spot": bool(not p.coverable[i]), "kind": str(t.kind[i]),
                            "community": names[t.community[i]] if t.community[i] >= 0 else None}}
            for i, (x, y) in enumerate(zip(lon, lat, strict=True))]


def write_outputs(res: PlanResult, req: PlanRequest) -> None:
    """Write every output file into ``res.out_dir``."""
    out = res.out_dir
    out.mkdir(parents=True, exist_ok=True)
    geojson_dump(out / "plan.geojson", _camera_features(res))
    geojson_dump(out / "targets.geojson", _target_features(res))
    with report_fonts():
        _map_png(res, out / "map.png")
    curve = _tradeoff(res)
    with report_fonts():
        _tradeoff_png(curve, res, out / "tradeoff.png")
    res.summary["tradeoff"] = curve
    (out / "report.html").write_text(_html(res, req.lang), encoding="utf-8")


_PALETTE = ["#ef5350", "#ffa726", "#66bb6a", "#42a5f5", "#9e9e9e", "#7e57c2", "#26a69a"]
MAX_CLIPPED_WEDGES = 1500


def _bands(res: PlanResult, j: int, levels: dict[str, float]) -> list[tuple[shapely.Geometry, str]]:
    """The camera's FOV wedge cut into rings by the DORI level reached, clipped by occlusion."""
    poses = res.poses
    spec = res.specs[poses.model[j]]
    x, y = poses.xy[j]
    h, tilt = float(poses.height[j]), float(res.tilts[j])
    r_max = max(float(res.ranges[j]), 1.0)
    r_min = min(dead_zone_m(h, tilt, spec.vfov_deg), r_max)
    vis = None  # a high point sees over roofs: its 2-D shadows would hide what it sees (2.5-D)
    if len(res.plan.chosen) <= MAX_CLIPPED_WEDGES and str(poses.mount[j]) not in EAGLE_MOUNTS:
        vis = visibility_polygon(x, y, res.buildings.polygons, r_max)
    out, outer = [], r_max
    ordered = sorted(levels.items(), key=lambda kv: kv[1])  # coarse (far) to fine (near)
    for k, (_, ppm) in enumerate(ordered):
        d = spec.f_px / ppm
        r_l = math.sqrt(max(d * d - (h - 1.5) ** 2, 0.0))
        inner = max(min(r_l, outer), r_min)
        nxt = ordered[k + 1][1] if k + 1 < len(ordered) else None
        r_in = r_min if nxt is None else max(math.sqrt(max((spec.f_px / nxt) ** 2 - (h - 1.5) ** 2, 0.0)), r_min)
        if min(r_l, outer) > r_in + 0.05:
            sweep = min(spec.preset_step_deg * spec.presets, 360.0)  # a PTZ tour: the sector its presets tile
            ring = fov_wedge(x, y, float(poses.heading[j]), sweep, min(r_l, outer), r_in)
            if vis is not None:
                ring = ring.intersection(vis)
            out.append((ring, _PALETTE[(len(ordered) - 1 - k) % len(_PALETTE)]))
        outer = min(outer, inner)
    return out


def scale_bar_m(width_m: float) -> int:
    """A round scale-bar length (1, 2 or 5 × 10^k metres) about a fifth of a map ``width_m`` wide."""
    target = max(width_m / 5.0, 1.0)
    k = 10 ** int(np.floor(np.log10(target)))
    return int(max(m * k for m in (1, 2, 5) if m * k <= target))


def _add_scale_bar(ax) -> None:  # type: ignore[no-untyped-def]
    """Replace the raw UTM axes with a metric scale bar (the local frame is in metres)."""
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    x0, x1 = ax.get_xlim()
    length = scale_bar_m(x1 - x0)
    label = f"{length // 1000} km" if length >= 1000 else f"{length} m"
    ax.add_artist(AnchoredSizeBar(ax.transData, length, label, "lower right", pad=0.6, sep=4, frameon=True,
                                  size_vertical=(x1 - x0) / 300, color="#263238"))
    ax.set_axis_off()


def map_figure(res: PlanResult):  # type: ignore[no-untyped-def]
    """The plan map (``map.png``) with a metric scale bar instead of UTM axes.

    Drawn on the plan's own base map (community outlines, building footprints), with targets, cameras and fields
    of view.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from vigil.coverage.optics import PROFILES

    fig, ax = plt.subplots(figsize=(11, 11), dpi=110)
    outlines = [np.asarray(part.exterior.coords) for c in res.communities for part in shapely.get_parts(c.polygon)
                if part.geom_type == "Polygon"]
    ax.add_collection(PolyCollection(outlines, fc="#eceff1", ec="#546e7a", lw=0.8, linestyle="--"))
    ax.add_collection(PolyCollection([np.asarray(q.exterior.coords) for q in shapely.get_parts(res.buildings.polygons)],
                                     fc="#cfd8dc", ec="#78909c", lw=0.4))
    t, p, poses = res.targets, res.plan, res.poses
    cov = p.count > 0
    ax.scatter(t.xy[cov, 0], t.xy[cov, 1], s=2, c="#2e7d32", label="covered target", zorder=3)
    ax.scatter(t.xy[~cov & p.coverable, 0], t.xy[~cov & p.coverable, 1], s=4, c="#f9a825", label="not covered",
               zorder=3)
    ax.scatter(t.xy[~p.coverable, 0], t.xy[~p.coverable, 1], s=14, c="#d50000", marker="x", label="blind spot",
               zorder=4)
    levels = PROFILES.get(res.summary.get("profile", "dori2015"), PROFILES["dori2015"])
    verts, colours = [], []
    for j in np.concatenate([np.flatnonzero(poses.fixed), p.chosen]):
        for band, colour in _bands(res, int(j), levels):
            for part in shapely.get_parts(band):
                if part.geom_type == "Polygon" and not part.is_empty:
                    verts.append(np.asarray(part.exterior.coords))
                    colours.append(colour)
    ax.add_collection(PolyCollection(verts, facecolors=colours, alpha=0.22, lw=0))
    ordered = sorted(levels.items(), key=lambda kv: kv[1])
    for k, (name, _) in enumerate(ordered):
        ax.fill([], [], color=_PALETTE[(len(ordered) - 1 - k) % len(_PALETTE)], alpha=0.5, label=f"FOV: {name}")
    old, new = poses.xy[poses.fixed], poses.xy[p.chosen]
    ax.scatter(old[:, 0], old[:, 1], marker="s", s=14, c="#37474f", label="existing camera", zorder=5)
    ax.scatter(new[:, 0], new[:, 1], marker="o", s=10, c="#1565c0", zorder=5,
               label="new camera")
    ax.set_aspect("equal")
    ax.autoscale_view()
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"{res.summary['name']}: {res.summary['level']} — coverage {res.summary['coverage_before']:.0%} → "
                 f"{res.summary['coverage_after']:.0%} with {len(p.chosen)} new cameras")
    ax.text(0.01, 0.01, ATTRIBUTION, transform=ax.transAxes, fontsize=7)
    _add_scale_bar(ax)
    return fig


def _map_png(res: PlanResult, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = map_figure(res)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def _tradeoff(res: PlanResult) -> list[dict[str, float]]:
    """Coverage after adding the plan's new cameras one by one, the most useful first (lazy greedy order)."""
    from vigil.coverage.heuristics import greedy

    p = res.plan
    a = res.matrix.tocsc()[:, p.chosen]
    need = ((p.count_before == 0) & (p.count > 0)).astype(np.int64)
    order = list(greedy(a, np.ones(a.shape[1]), need, np.ones(len(need))))
    order += [j for j in range(a.shape[1]) if j not in set(order)]
    seen = p.count_before > 0
    n = max(len(seen), 1)
    curve = [{"cameras": 0, "cost": 0.0, "coverage": round(seen.sum() / n, 4)}]
    cost = 0.0
    for j in order:
        seen[a.indices[a.indptr[j]:a.indptr[j + 1]]] = True
        cost += float(res.poses.cost[p.chosen[j]])
        curve.append({"cameras": len(curve), "cost": round(cost, 2), "coverage": round(seen.sum() / n, 4)})
    return curve


def _tradeoff_png(curve: list[dict[str, float]], res: PlanResult, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=100)
    cams = [c["cameras"] for c in curve]
    cov = [100 * c["coverage"] for c in curve]
    a1.plot(cams, cov, c="#1565c0")
    a1.set_xlabel("new cameras")
    a1.set_ylabel("targets covered (%)")
    a2.plot([c["cost"] for c in curve], cov, c="#2e7d32")
    a2.set_xlabel("cost of new cameras")
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 100)
    fig.suptitle(f"{res.summary['name']}: coverage against cameras and cost ({res.summary['level']})")
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def _html(res: PlanResult, lang: str = "en") -> str:
    _ = translator(lang).gettext
    s = res.summary
    e = html.escape
    rows = "".join(f"<tr><td>{e(c['name'])}</td><td>{c['targets']}</td><td>{_pct(c['coverage_before'])}</td>"
                   f"<td>{_pct(c['coverage_after'])}</td></tr>" for c in s["communities"])
    keys = ["level", "ppm", "mode", "targets", "coverable", "blind_spots", "coverage_before", "coverage_after",
            "cameras_existing", "cameras_new", "cost_new", "lower_bound", "gap", "solver", "status", "greedy_cameras"]
    facts = "".join(f"<tr><th>{k}</th><td>{e(str(s.get(k)))}</td></tr>" for k in keys)
    warn = "".join(f"<li>{e(w)}</li>" for w in s.get("warnings", []))
    lead = translate_line(f"Coverage {_pct(s['coverage_before'])} → {_pct(s['coverage_after'])} with {s['cameras_new']} "
                          f"new cameras (cost {s['cost_new']}); {s['blind_spots']} blind spot(s) no candidate can see.",
                          lang)
    return f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{_("Coverage plan")}: {e(s['name'])}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}img{{max-width:100%}}</style></head><body>
<h1>{_("Coverage plan")}: {e(s['name'])}</h1>
<p>{e(lead)}</p>
{_proof_html(s)}
<img src="map.png" alt="map of the plan"><h2>{_("Summary")}</h2><table>{facts}</table>
{high_points_html(s)}
<h2>{_("Communities")}</h2><table><tr><th>{_("name")}</th><th>{_("targets")}</th><th>{_("before")}</th>
<th>{_("after")}</th></tr>{rows}</table>
<img src="tradeoff.png" alt="coverage against cameras and cost">
<h2>{_("Notes")}</h2><ul>{warn}</ul><p>Files: plan.geojson, targets.geojson, summary.json. {e(ATTRIBUTION)}.</p>
</body></html>"""


def _proof_html(s: dict[str, Any]) -> str:
    """The proven gap in words, and the warning when it is above 1 % (plans from older runs lack them)."""
    words, warning = gap_words(s.get("gap"), str(s.get("status") or ""))
    out = f'<p class="proof">Cost: {html.escape(words)}.</p>'
    if warning:
        out += f'<p class="warning" role="alert" style="color:#a40000"><strong>{html.escape(warning)}</strong></p>'
    return out


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def load_summary(out_dir: str | Path) -> dict[str, Any]:
    """Read ``summary.json`` of a plan folder."""
    return json.loads((Path(out_dir) / "summary.json").read_text(encoding="utf-8"))
