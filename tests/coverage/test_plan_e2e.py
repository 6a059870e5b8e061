"""End to end: a Kunming community (fast), the three real areas (slow), outputs and their contracts."""

import json

import numpy as np
import pytest
from covkit import mapdata, point, poly, write_geojson

from vigil.coverage.plan import PlanRequest, run_plan

SUMMARY_KEYS = {"level", "ppm", "targets", "coverable", "coverage_before", "coverage_after", "cameras_existing",
                "cameras_new", "cost_new", "lower_bound", "gap", "solver", "seconds", "communities"}
CAMERA_PROPS = {"id", "status", "model", "h_res_px", "hfov_deg", "height_m", "heading_deg", "tilt_deg", "range_m",
                "cost"}


def test_community_outputs_and_contracts(community_plan):
    res, out, stages = community_plan
    assert [s for s, e in stages if e == "done"] == ["read", "targets", "candidates", "visibility", "optimise",
                                                      "report"]
    for name in ("report.html", "map.png", "tradeoff.png", "plan.geojson", "targets.geojson", "summary.json"):
        assert (out / name).stat().st_size > 100, name
    s = json.loads((out / "summary.json").read_text())
    assert set(s) >= SUMMARY_KEYS
    assert s["coverage_after"] > 0.99 and s["coverage_before"] == 0
    assert s["cameras_new"] == len(res.plan.chosen) > 0 and s["cameras_existing"] == 0
    assert s["lower_bound"] <= s["cost_new"] + 1e-6
    assert {"read", "visibility", "optimise", "total"} <= set(s["seconds"])
    assert s["communities"][0]["name"] == "金色年华"
    cams = json.loads((out / "plan.geojson").read_text())["features"]
    assert all(set(f["properties"]) >= CAMERA_PROPS for f in cams)
    lon, lat = cams[0]["geometry"]["coordinates"]
    assert 102.7 < lon < 102.75 and 25.0 < lat < 25.1  # WGS84
    assert all(0 <= f["properties"]["heading_deg"] < 360 for f in cams)
    tg = json.loads((out / "targets.geojson").read_text())["features"]
    assert len(tg) == s["targets"]
    assert {"required_ppm", "covered_before", "covered_after"} <= set(tg[0]["properties"])
    assert sum(f["properties"]["covered_after"] for f in tg) == round(s["coverage_after"] * s["targets"])


def test_existing_cameras_count_and_stay(kunming_community, one_model, community_plan, tmp_path):
    res, _, _ = community_plan
    cams = json.loads((community_plan[1] / "plan.geojson").read_text())["features"][:5]
    feats = [point(*f["geometry"]["coordinates"], id=f"old-{i}", model="bullet-2560-90",
                   height_m=f["properties"]["height_m"], heading_deg=f["properties"]["heading_deg"])
             for i, f in enumerate(cams)]
    existing = write_geojson(tmp_path / "existing.geojson", feats)
    res2 = run_plan(PlanRequest(area=kunming_community, catalog=one_model, existing=existing, time_limit=20,
                                spacing=6), tmp_path / "out")
    s = res2.summary
    assert s["cameras_existing"] == 5 and s["coverage_before"] > 0
    assert s["cameras_new"] <= res.summary["cameras_new"] - 1  # existing cameras do part of the job
    assert not np.any(res2.poses.fixed[res2.plan.chosen])
    out = json.loads((tmp_path / "out" / "plan.geojson").read_text())["features"]
    assert sorted(f["properties"]["id"] for f in out if f["properties"]["status"] == "existing") == \
        [f"old-{i}" for i in range(5)]


def test_budget_mode_and_must_watch(kunming_community, one_model, community_plan, tmp_path):
    res, _, _ = community_plan
    c = res.frame.lonlat(*res.targets.xy[:1].T)
    must = write_geojson(tmp_path / "gate.geojson", [point(float(c[0][0]), float(c[1][0]), name="gate")])
    r = run_plan(PlanRequest(area=kunming_community, catalog=one_model, must_watch=must, target=None, budget=10,
                             time_limit=10, spacing=6), tmp_path / "b")
    assert r.summary["cameras_new"] <= 10 and r.summary["mode"] == "max-coverage"
    assert 0 < r.summary["coverage_after"] < 1
    assert (r.targets.kind == "must").sum() == 1 and r.targets.ppm.max() == 125


@pytest.mark.slow
@pytest.mark.parametrize("area", ["kunming", "shanghai", "wuhan"])
def test_real_areas_end_to_end(area, tmp_path):
    kw = {"kunming": {"area": mapdata("kunming_jinjiang/buildings.geojson")},
          "shanghai": {"area": mapdata("shanghai_shu/map.osm")},
          "wuhan": {"area": mapdata("wuhan_tilezen/buildings.geojson"), "roads": mapdata("wuhan_tilezen/roads.geojson")}}
    res = run_plan(PlanRequest(**kw[area], time_limit=30), tmp_path)
    s = res.summary
    assert (res.plan.count > 0).sum() == res.plan.coverable.sum() == s["coverable"]  # full cover of the coverable
    assert s["coverage_after"] == pytest.approx(s["coverable"] / s["targets"], abs=1e-4)
    assert s["blind_spots"] == s["targets"] - s["coverable"]
    if area == "kunming":
        names = {c["name"] for c in s["communities"]}
        assert len(names) == 16
        assert all(c["coverage_after"] >= c["coverage_before"] for c in s["communities"])


def test_boundary_k_coverage_and_iec_profile(kunming_community, one_model, community_plan, tmp_path):
    res, _, _ = community_plan
    xmin, ymin, xmax, ymax = res.targets.xy[:, 0].min(), res.targets.xy[:, 1].min(), \
        res.targets.xy[:, 0].max(), res.targets.xy[:, 1].max()
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    ring_xy = [(cx - 40, cy - 40), (cx + 40, cy - 40), (cx + 40, cy + 40), (cx - 40, cy + 40)]
    lon, lat = res.frame.lonlat(np.array([p[0] for p in ring_xy]), np.array([p[1] for p in ring_xy]))
    bnd = write_geojson(tmp_path / "boundary.geojson",
                        [poly(list(zip(lon.tolist(), lat.tolist(), strict=True)), name="inner court")])
    r = run_plan(PlanRequest(area=kunming_community, catalog=one_model, boundary=bnd, k=2, profile="iec2025",
                             level="discern", time_limit=10, spacing=6), tmp_path / "k2")
    s = r.summary
    assert [c["name"] for c in s["communities"]] == ["inner court"]
    assert s["ppm"] == 80 and s["mode"] == "k-coverage"
    assert s["targets"] < res.summary["targets"]  # only the ground inside the boundary
    seen = r.plan.count[r.plan.coverable]
    avail = np.asarray(r.matrix.sum(axis=1)).ravel()[r.plan.coverable]
    assert np.all(seen >= np.minimum(2, avail))


def test_map_png_has_a_metric_scale_bar_not_utm_axes(community_plan):
    """map.png draws the community outline and buildings with a round metric scale bar; the UTM axes are gone."""
    import matplotlib.pyplot as plt
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    from vigil.coverage.report import map_figure, scale_bar_m

    assert [scale_bar_m(w) for w in (37, 480, 1300, 12_000)] == [5, 50, 200, 2000]
    res, _, _ = community_plan
    fig = map_figure(res)
    ax = fig.axes[0]
    bars = [a for a in ax.artists if isinstance(a, AnchoredSizeBar)]
    x0, x1 = ax.get_xlim()
    assert not ax.axison and len(bars) == 1
    label = bars[0].txt_label.get_text()
    assert label == f"{scale_bar_m(x1 - x0)} m" and 0 < scale_bar_m(x1 - x0) <= (x1 - x0) / 5
    assert len(ax.collections[0].get_paths()) == len(res.communities)  # the community outline under the buildings
    plt.close(fig)
