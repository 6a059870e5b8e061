"""Fixtures for coverage tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from covkit import mapdata, write_geojson

from vigil.coverage.plan import PlanRequest, run_plan


@pytest.fixture(scope="session")
def kunming_community(tmp_path_factory) -> Path:
    """One Kunming compound (金色年华, 13 buildings) as its own GeoJSON."""
    src = json.loads(mapdata("kunming_jinjiang/buildings.geojson").read_text())
    feats = [f for f in src["features"] if f["properties"].get("community") == "金色年华"]
    return write_geojson(tmp_path_factory.mktemp("km") / "jinse.geojson", feats)


@pytest.fixture(scope="session")
def one_model(tmp_path_factory):
    p = tmp_path_factory.mktemp("cat") / "catalog.yaml"
    p.write_text("heights: {wall: 4.0, pole: 4.0, entrance: 4.0}\nmodels:\n"
                 "  - {name: bullet-2560-90, h_res_px: 2560, v_res_px: 1440, hfov_deg: 90, cost: 1,"
                 " mounts: [wall, pole, entrance]}\n")
    return p


@pytest.fixture(scope="session")
def community_plan(kunming_community, one_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("plan")
    stages = []
    res = run_plan(PlanRequest(area=kunming_community, catalog=one_model, time_limit=20, spacing=6),
                   out, progress=lambda s, e: stages.append((s, e)))
    return res, out, stages
