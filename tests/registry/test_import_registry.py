"""Import of regions, sites and camera models: any row order, upsert, every bad row reported."""

from __future__ import annotations

import json

import pytest
from importkit import MODELS_CSV, REGIONS_CSV, SITES_CSV, counts, seed, write
from sqlalchemy import select

from vigil.access.guard import Scope
from vigil.core.errors import ImportRejected
from vigil.core.models import AuditEntry, CameraModel, Region, Site
from vigil.registry.io import import_models, import_regions, import_sites


def _errors(exc: pytest.ExceptionInfo[ImportRejected]) -> set[tuple[int, str]]:
    return {(e.line, e.field) for e in exc.value.errors}


def test_regions_in_any_order_then_idempotent(vigil):
    with vigil.db.session() as s:
        rep = import_regions(s, REGIONS_CSV.encode(), actor="t", scope=Scope.everything())
    assert (rep.rows, rep.created, rep.updated, rep.unchanged) == (6, 6, 0, 0)
    with vigil.db.session() as s:
        village = s.get(Region, "53018101001")
        assert (village.level, village.parent_code, village.name) == (4, "53018101", "Dongcun")
        assert s.get(Region, "5301").parent_code is None
        rep = import_regions(s, REGIONS_CSV.encode(), actor="t", scope=Scope.everything())
    assert (rep.created, rep.updated, rep.unchanged) == (0, 0, 6)
    renamed = REGIONS_CSV.replace("Town Two", "Town 2")
    with vigil.db.session() as s:
        rep = import_regions(s, renamed.encode(), actor="t", scope=Scope.everything())
        assert (rep.created, rep.updated, rep.unchanged) == (0, 1, 5)
        assert s.get(Region, "53018102").name == "Town 2"
        audits = s.scalars(select(AuditEntry).where(AuditEntry.action == "regions.import")).all()
    assert len(audits) == 3 and audits[-1].detail["updated"] == 1


def test_bad_regions_are_all_reported_and_nothing_is_stored(vigil):
    bad = """code,name,level,parent
5301,Kunming,1,
530181,Anning,town,5301
53018101,,3,530181
53019901,Orphan,3,530199
5301810100,Ten digits,4,53018101
53018102,Wrong parent,3,5301
53018103,Levelless,9,530181
530181,Anning again,2,5301
"""
    with vigil.db.session() as s, pytest.raises(ImportRejected) as exc:
        import_regions(s, bad.encode(), actor="t", scope=Scope.everything())
    assert _errors(exc) == {(3, "level"), (4, "name"), (5, "parent"), (6, "code"), (7, "parent"), (8, "level"),
                            (9, "code")}
    text = str(exc.value) + " ".join(e.reason for e in exc.value.errors)
    assert "530199 does not exist" in text and "by its code the parent is 530181" in text
    assert counts(vigil)["regions"] == 0 and counts(vigil)["audit_log"] == 0


def test_sites_from_csv_wkt_and_geojson(vigil, tmp_path):
    seed(vigil)
    with vigil.db.session() as s:
        school = s.scalar(select(Site).where(Site.name == "School"))
        assert school.kind == "school" and school.protection_class == 1 and school.sensitive
        assert school.geometry["type"] == "Polygon" and school.region_code == "53018101"
        assert 102.70 < school.lon < 102.71  # a point inside the polygon when lon/lat are not given
        square = s.scalar(select(Site).where(Site.name == "Square"))
        assert square.geometry is None and not square.sensitive
        rep = import_sites(s, SITES_CSV.encode(), actor="t", scope=Scope.everything())
    assert (rep.created, rep.updated, rep.unchanged) == (0, 0, 3)
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Market", "kind": "square", "protection_class": 2,
                                           "region": "53018102001", "sensitive": False},
         "geometry": {"type": "Polygon", "coordinates": [[[102.8, 25.1], [102.81, 25.1], [102.81, 25.11],
                                                          [102.8, 25.1]]]}},
        {"type": "Feature", "properties": {"name": "School", "region": "53018101", "kind": "school",
                                           "protection_class": 2}, "geometry": None}]}
    path = write(tmp_path, "sites.geojson", json.dumps(fc))
    with vigil.db.session() as s:
        rep = import_sites(s, path, actor="t", scope=Scope.everything())
        assert (rep.created, rep.updated, rep.unchanged) == (1, 1, 0)
        school = s.scalar(select(Site).where(Site.name == "School"))
        assert school.protection_class == 2 and school.geometry["type"] == "Polygon"  # absent = unchanged
        rep = import_sites(s, path, actor="t", scope=Scope.everything())
    assert (rep.created, rep.updated) == (0, 0)


def test_bad_sites_are_all_reported(vigil):
    seed(vigil)
    before = counts(vigil)
    bad = """name,kind,protection_class,region,geometry
Ok,school,1,53018101,
Bow,school,1,53018101,"POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))"
Line,square,2,53018101,"LINESTRING (102 25, 103 26)"
Far,square,2,53018101,"POLYGON ((500 0, 501 0, 501 1, 500 0))"
Junk,square,2,53018101,not a shape
Kind,castle,4,53018101,
Nowhere,school,1,53019999,
,school,1,53018101,
Ok,school,1,53018101,
"""
    with vigil.db.session() as s, pytest.raises(ImportRejected) as exc:
        import_sites(s, bad.encode(), actor="t", scope=Scope.everything())
    assert _errors(exc) == {(3, "geometry"), (4, "geometry"), (5, "geometry"), (6, "geometry"), (7, "kind"),
                            (7, "protection_class"), (8, "region"), (9, "name"), (10, "name")}
    reasons = {e.line: e.reason for e in exc.value.errors}
    assert "Self-intersection" in reasons[3] and "LineString" in reasons[4] and "WGS84" in reasons[5]
    assert counts(vigil) == before


def test_models_upsert_and_bad_numbers(vigil):
    with vigil.db.session() as s:
        import_models(s, MODELS_CSV.encode(), actor="t", scope=Scope.everything())
        rep = import_models(s, MODELS_CSV.replace("700.5", "650").encode(), actor="t", scope=Scope.everything())
        assert (rep.created, rep.updated, rep.unchanged) == (0, 1, 1)
        assert s.scalar(select(CameraModel.unit_cost).where(CameraModel.name == "Dome-2MP")) == 650
    bad = MODELS_CSV + "Zero,Acme,0,1080,0,56,-1,fisheye,cheap\nWide,Acme,1920.5,1080,400,56,,,\n"
    with vigil.db.session() as s, pytest.raises(ImportRejected) as exc:
        import_models(s, bad.encode(), actor="t", scope=Scope.everything())
    assert _errors(exc) == {(4, "h_res_px"), (4, "hfov_deg"), (4, "ir_range_m"), (4, "form_factor"),
                            (4, "unit_cost"), (5, "h_res_px"), (5, "hfov_deg")}
    assert counts(vigil)["camera_models"] == 2
