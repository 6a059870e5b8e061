"""Camera export: CSV / GeoJSON / GeoPackage, round trips through import, region and scope filters, audit."""

from __future__ import annotations

import csv
import io
import json

import pytest
from importkit import CAMERAS_CSV, seed, write
from pyogrio import read_info
from pyogrio.raw import read
from sqlalchemy import select

from vigil.access.guard import Scope
from vigil.core.errors import InputError, NotFoundError
from vigil.core.models import AuditEntry
from vigil.registry.io import CAMERA_FIELDS, export_cameras, import_cameras


@pytest.fixture
def city(vigil):
    seed(vigil)
    with vigil.db.session() as s:
        import_cameras(s, CAMERAS_CSV.encode(), box=vigil.box, actor="t", scope=Scope.everything())
    return vigil


def _export(v, **kw):
    with v.db.session() as s:
        return export_cameras(s, box=v.box, actor="tester", **{"scope": Scope.everything(), **kw})


def _reimport(v, data: bytes, name: str):
    with v.db.session() as s:
        return import_cameras(s, data, box=v.box, actor="t", scope=Scope.everything(), name=name)


@pytest.mark.parametrize("secrets", [False, True])
def test_csv_round_trip_changes_nothing(city, secrets):
    data = _export(city, fmt="csv", include_secrets=secrets)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 4 and tuple(rows[0]) == (CAMERA_FIELDS if secrets else CAMERA_FIELDS[:-1])
    east = next(r for r in rows if r["name"] == "Gate East")
    assert east["site"] == "Gas 1" and east["model"] == "Bullet-4MP" and east["lifecycle"] == "in_service"
    assert ("s3cret-1" in data.decode()) is secrets
    rep = _reimport(city, data, "export.csv")
    assert (rep.created, rep.updated, rep.unchanged) == (0, 0, 4)
    # and a re-import into the instance keeps the passwords when they were left out
    data2 = _export(city, fmt="csv", include_secrets=True)
    assert "s3cret-1" in data2.decode()


def test_geojson_is_a_wgs84_point_collection_and_round_trips(city, tmp_path):
    data = _export(city, fmt="geojson")
    doc = json.loads(data)
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 4
    f = next(f for f in doc["features"] if f["properties"]["name"] == "Square North")
    assert f["geometry"] == {"type": "Point", "coordinates": [102.8, 25.1]}
    assert f["properties"]["height_m"] == 8.0 and "password" not in f["properties"]
    path = write(tmp_path, "cams.geojson", data)
    assert read_info(str(path))["features"] == 4
    rep = _reimport(city, data, "cams.geojson")
    assert (rep.created, rep.updated, rep.unchanged) == (0, 0, 4)


def test_geopackage_is_readable(city, tmp_path):
    path = write(tmp_path, "cams.gpkg", _export(city, fmt="gpkg"))
    info = read_info(str(path))
    assert (info["driver"], info["layer_name"], info["features"], info["geometry_type"]) == \
        ("GPKG", "cameras", 4, "Point")
    assert info["crs"] == "EPSG:4326" and "password" not in list(info["fields"])
    meta, _fids, geometry, fields = read(str(path))
    names = list(meta["fields"])
    assert sorted(fields[names.index("name")]) == ["Gate East", "Gate West", "School Yard", "Square North"]
    assert len(geometry) == 4


def test_region_and_scope_filters(city):
    def names(**kw):
        rows = csv.DictReader(io.StringIO(_export(city, fmt="csv", **kw).decode("utf-8-sig")))
        return sorted(r["name"] for r in rows)

    assert names(region="53018102") == ["Square North"]
    assert names(region="53018101001") == ["Gate East", "Gate West"]
    assert names(scope=Scope.of(["53018101"])) == ["Gate East", "Gate West", "School Yard"]
    assert names(scope=Scope.of(["53018101"]), region="53018101001") == ["Gate East", "Gate West"]
    for region in ("53018102", "530181", "99"):  # another town, a region above the scope, garbage
        with pytest.raises(NotFoundError):
            _export(city, fmt="csv", region=region, scope=Scope.of(["53018101"]))
    with pytest.raises(NotFoundError):
        _export(city, fmt="csv", region="53018109")  # does not exist
    empty = _export(city, fmt="gpkg", scope=Scope.of(["53018102001"]))
    assert empty[:16] == b"SQLite format 3\x00"


def test_exports_are_audited_and_checked(city):
    _export(city, fmt="geojson", region="53018101", include_secrets=True)
    with city.db.session() as s:
        e = s.scalars(select(AuditEntry).where(AuditEntry.action == "cameras.export")).one()
    assert (e.actor, e.region_code, e.detail["count"], e.detail["secrets"]) == ("tester", "53018101", 3, True)
    with city.db.session() as s:
        with pytest.raises(InputError, match="credential box"):
            export_cameras(s, scope=Scope.everything(), fmt="csv", include_secrets=True)
        with pytest.raises(InputError, match="unknown export format"):
            export_cameras(s, scope=Scope.everything(), fmt="xlsx")  # type: ignore[arg-type]


def test_csv_cells_are_safe_to_open_in_a_spreadsheet(city):
    with city.db.session() as s:
        import_cameras(s, [{"name": "=HYPERLINK(\"http://x\")", "region": "53018102", "lon": -0.5, "lat": 25,
                            "username": "@admin", "password": "-pw"}], box=city.box, actor="t",
                       scope=Scope.everything())
    data = _export(city, fmt="csv", include_secrets=True).decode("utf-8-sig")
    row = next(r for r in csv.DictReader(io.StringIO(data)) if "HYPERLINK" in r["name"])
    assert row["name"].startswith("'=") and row["username"] == "'@admin" and row["password"] == "'-pw"
    assert row["lon"] == "-0.5"
    rep = _reimport(city, data.encode(), "again.csv")
    assert (rep.created, rep.updated, rep.unchanged) == (0, 0, 5)
