"""Region outlines through bulk import and export: GeoJSON features carry them (checked by the site rule, every bad
row reported), a CSV has none and leaves them as they are, and what is exported imports back unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from importkit import REGIONS_CSV
from sqlalchemy import select

from factories import TOWN1 as FTOWN1
from factories import TOWN2 as FTOWN2
from factories import build_world
from vigil.access.guard import Scope
from vigil.api.app import create_app
from vigil.core.errors import ImportRejected, InputError, NotFoundError
from vigil.core.models import AuditEntry, Region
from vigil.registry.io import export_regions, import_regions

TOWN1, TOWN2, VILLAGE = "53018101", "53018102", "53018101001"


def square(lon: float, lat: float, d: float) -> dict:
    """A square GeoJSON Polygon of half-side ``d`` degrees."""
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]
    return {"type": "Polygon", "coordinates": [ring]}


def _feature(code: str, name: str, level: int, parent: str | None, geometry: dict | None) -> dict:
    return {"type": "Feature", "geometry": geometry,
            "properties": {"code": code, "name": name, "level": level, "parent": parent}}


def _collection(*features: dict) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False).encode()


@pytest.fixture
def regions(vigil):  # type: ignore[no-untyped-def]
    with vigil.db.session() as s:
        import_regions(s, REGIONS_CSV.encode(), actor="t", scope=Scope.everything())
    return vigil


def _outlines(v) -> dict[str, dict | None]:  # type: ignore[no-untyped-def]
    with v.db.session() as s:
        return dict(s.execute(select(Region.code, Region.outline).order_by(Region.code)).all())


def test_geojson_import_sets_outlines_and_csv_leaves_them(regions) -> None:
    doc = _collection(_feature(TOWN1, "Town One", 3, "530181", square(102.7, 25.0, 0.05)),
                      _feature(TOWN2, "Town Two", 3, "530181", None),  # null: keep what is stored (none)
                      _feature("53018101002", "新村", 4, TOWN1, square(102.71, 25.0, 0.01)))
    with regions.db.session() as s:
        rep = import_regions(s, doc, actor="t", scope=Scope.everything(), name="towns.geojson")
    assert (rep.created, rep.updated, rep.unchanged) == (1, 1, 1)
    got = _outlines(regions)
    assert got[TOWN1] == square(102.7, 25.0, 0.05) and got["53018101002"] == square(102.71, 25.0, 0.01)
    assert got[TOWN2] is None and got[VILLAGE] is None
    with regions.db.session() as s:  # the CSV renames a town: its outline stays
        rep = import_regions(s, REGIONS_CSV.replace("Town One", "Town 1").encode(), actor="t",
                             scope=Scope.everything())
        assert (rep.updated, s.get(Region, TOWN1).name) == (1, "Town 1")
    assert _outlines(regions)[TOWN1] == square(102.7, 25.0, 0.05)
    with regions.db.session() as s:  # one feature outlines town 2, the other rows' outlines are kept
        rep = import_regions(s, _collection(_feature(TOWN2, "Town Two", 3, "530181", square(102.8, 25.0, 0.05)),
                                            _feature(TOWN1, "Town One", 3, "530181", None)),
                             actor="t", scope=Scope.everything(), name="again.geojson")
    assert (rep.updated, rep.unchanged) == (2, 0)
    got = _outlines(regions)
    assert got[TOWN1] == square(102.7, 25.0, 0.05) and got[TOWN2] == square(102.8, 25.0, 0.05)


def test_a_csv_with_an_outline_column_is_refused(regions) -> None:
    csv = "code,name,level,parent,geometry\n53018101,Town One,3,530181,\"POLYGON ((0 0, 1 0, 1 1, 0 0))\"\n"
    with regions.db.session() as s, pytest.raises(InputError, match="unknown column"):
        import_regions(s, csv.encode(), actor="t", scope=Scope.everything())


def test_bad_outlines_are_all_reported_and_nothing_is_stored(regions) -> None:
    bow = {"type": "Polygon", "coordinates": [[[102.7, 25.0], [102.8, 25.1], [102.8, 25.0], [102.7, 25.1],
                                                [102.7, 25.0]]]}
    doc = _collection(_feature(TOWN1, "Town One", 3, "530181", square(102.7, 25.0, 0.05)),
                      _feature(TOWN2, "Town Two", 3, "530181", bow),
                      _feature(VILLAGE, "Dongcun", 4, TOWN1, {"type": "Point", "coordinates": [102.7, 25.0]}),
                      _feature("53018101003", "x", 4, TOWN1, square(202.7, 25.0, 0.01)))
    with regions.db.session() as s, pytest.raises(ImportRejected) as exc:
        import_regions(s, doc, actor="t", scope=Scope.everything(), name="bad.geojson")
    reasons = {e.line: (e.field, e.reason) for e in exc.value.errors}
    assert set(reasons) == {2, 3, 4} and {f for f, _ in reasons.values()} == {"geometry"}
    assert "not a valid polygon" in reasons[2][1] and "Polygon or MultiPolygon" in reasons[3][1]
    assert "WGS84" in reasons[4][1]
    assert all(o is None for o in _outlines(regions).values())


def test_export_round_trips_the_outlines(regions, tmp_path) -> None:
    multi = {"type": "MultiPolygon", "coordinates": [square(102.7, 25.0, 0.05)["coordinates"],
                                                     square(102.9, 25.0, 0.05)["coordinates"]]}
    with regions.db.session() as s:
        s.get(Region, TOWN1).outline = multi
        s.get(Region, VILLAGE).outline = square(102.7, 25.0, 0.01)
        s.get(Region, VILLAGE).lon, s.get(Region, VILLAGE).lat = 102.7, 25.0
    before = _outlines(regions)
    with regions.db.session() as s:
        geo = export_regions(s, scope=Scope.everything(), fmt="geojson")
        csv = export_regions(s, scope=Scope.everything(), fmt="csv", region=TOWN1)
        with pytest.raises(NotFoundError):
            export_regions(s, scope=Scope.of([TOWN2]), fmt="csv", region=TOWN1)
        mine = export_regions(s, scope=Scope.of([TOWN2]), fmt="geojson")
        audits = s.scalars(select(AuditEntry.action).where(AuditEntry.action == "regions.export")).all()
    feats = json.loads(geo)["features"]
    assert [f["id"] for f in feats] == ["5301", "530181", TOWN1, TOWN2, VILLAGE, "53018102001"]
    assert feats[2]["geometry"] == multi and feats[3]["geometry"] is None
    assert csv.decode("utf-8-sig").splitlines() == ["code,name,level,parent,lon,lat", f"{TOWN1},Town One,3,530181,,",
                                                    f"{VILLAGE},Dongcun,4,{TOWN1},102.7,25.0"]
    assert [f["id"] for f in json.loads(mine)["features"]] == [TOWN2, "53018102001"]  # the scope, not above it
    assert len(audits) == 3
    with regions.db.session() as s:  # back in: nothing changes
        for data, name in ((geo, "regions.geojson"), (csv, "regions.csv")):
            rep = import_regions(s, data, actor="t", scope=Scope.everything(), name=name)
            assert (rep.created, rep.updated) == (0, 0) and rep.unchanged == rep.rows, name
    assert _outlines(regions) == before
    # into an empty instance: the same regions and outlines
    with regions.db.session() as s:
        for code in sorted(before, key=len, reverse=True):
            s.delete(s.get(Region, code))
            s.flush()
        rep = import_regions(s, geo, actor="t", scope=Scope.everything(), name="regions.geojson")
    assert rep.created == 6 and _outlines(regions) == before


def test_the_cli_exports_regions_as_geojson(sqlite_vigil, tmp_path) -> None:
    with sqlite_vigil.db.session() as s:
        import_regions(s, REGIONS_CSV.encode(), actor="t", scope=Scope.everything())
        s.get(Region, TOWN1).outline = square(102.7, 25.0, 0.05)
    out = tmp_path / "regions.geojson"
    env = {**os.environ, "VIGIL_HOME": str(sqlite_vigil.settings.home)}
    r = subprocess.run([sys.executable, "-m", "vigil", "export", "regions", "--format", "geojson", "--region", TOWN1,
                        "--out", str(out), "--db", str(sqlite_vigil.db.engine.url)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    feats = json.loads(out.read_text())["features"]
    assert [f["id"] for f in feats] == [TOWN1, VILLAGE] and feats[0]["geometry"] == square(102.7, 25.0, 0.05)


def test_the_api_imports_outlined_regions_within_the_callers_scope(vigil) -> None:
    w = build_world(vigil)
    c = TestClient(create_app(vigil), raise_server_exceptions=False)
    auth = {"Authorization": f"Bearer {w.tokens[FTOWN1]}"}
    mine = _collection(_feature(FTOWN1, "Town 1", 3, "530181", square(102.7, 25.0, 0.05)))
    r = c.post("/api/v1/import/regions", headers=auth, files={"file": ("towns.geojson", mine, "application/geo+json")})
    assert r.status_code == 200, r.text
    assert r.json()["updated"] == 1 and _outlines(vigil)[FTOWN1] == square(102.7, 25.0, 0.05)
    theirs = _collection(_feature(FTOWN2, "Town 2", 3, "530181", square(102.8, 25.0, 0.05)))
    r = c.post("/api/v1/import/regions", headers=auth, files={"file": ("t.geojson", theirs, "application/geo+json")})
    assert r.status_code == 404 and _outlines(vigil)[FTOWN2] is None  # another town's region: not found
