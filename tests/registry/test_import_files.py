"""Malformed files get one clear InputError (never a traceback); good encodings and layouts are accepted."""

from __future__ import annotations

import re

import pytest
from importkit import REGIONS_CSV, counts, write

from vigil.access.guard import Scope
from vigil.core.errors import ImportRejected, InputError
from vigil.registry.io import import_cameras, import_models, import_regions, import_sites

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


@pytest.mark.parametrize(("name", "data", "message"), [
    ("empty.csv", b"", "the file is empty"),
    ("blank.csv", b"\n\n  \n", "the file is empty"),
    ("image.csv", PNG, "binary file"),
    ("latin1.csv", "code,name,level,parent\n5301,K\xf6nig,1,\n".encode("latin-1"), "not UTF-8 text"),
    ("utf16.csv", REGIONS_CSV.encode("utf-16"), "UTF-16"),
    ("gbk.csv", "code,name,level,parent\n5301,昆明市,1,\n".encode("gbk"), "looks like GBK"),
    ("columns.csv", b"code,title,level\n5301,x,1\n", "missing column(s) name"),
    ("extra.csv", b"code,name,level,parent,colour\n5301,x,1,,red\n", "unknown column(s) colour"),
    ("semicolons.csv", b"code;name;level;parent\n5301;x;1;\n", "separated by commas"),
    ("twice.csv", b"code,name,name\n5301,x,y\n", "more than once"),
    ("regions.geojson", b'{"type": "FeatureCollection", "features": [], "crs": {"type": "name", '
                        b'"properties": {"name": "EPSG:3857"}}}', "WGS84"),
    ("missing.csv", None, "no such file"),
])
def test_malformed_region_files(sqlite_vigil, tmp_path, name, data, message):
    path = tmp_path / name if data is None else write(tmp_path, name, data)
    with sqlite_vigil.db.session() as s, pytest.raises(InputError, match=re.escape(message)) as exc:
        import_regions(s, path, actor="t", scope=Scope.everything())
    assert not isinstance(exc.value, ImportRejected)
    assert name in str(exc.value)
    assert counts(sqlite_vigil)["regions"] == 0


@pytest.mark.parametrize(("data", "message"), [
    (b'{"type": "FeatureCollection", "features": [', "broken GeoJSON"),
    (b'{"type": "Feature"', "broken GeoJSON: .* line 1"),
    (b'{"type": "GeometryCollection", "geometries": []}', "must be a FeatureCollection"),
    (b'{"type": "FeatureCollection", "features": [], "crs": {"properties": {"name": "EPSG:3857"}}}', "WGS84"),
])
def test_malformed_geojson(sqlite_vigil, tmp_path, data, message):
    path = write(tmp_path, "cams.geojson", data)
    with sqlite_vigil.db.session() as s, pytest.raises(InputError, match=message):
        import_cameras(s, path, box=sqlite_vigil.box, actor="t", scope=Scope.everything())
    with sqlite_vigil.db.session() as s, pytest.raises(InputError, match=message):
        import_sites(s, data, actor="t", scope=Scope.everything(), name="upload.json")


def test_bom_crlf_quotes_and_blank_lines_are_fine(sqlite_vigil, tmp_path):
    text = ('\ufeffCode , Name,LEVEL,parent\r\n5301,"Kunming, 昆明",prefecture,\r\n\r\n'
            '530181,"Anning ""New""\r\nDistrict",2,5301\r\n53018101,Town,3,530181\r\n')
    path = write(tmp_path, "bom.csv", text.encode("utf-8"))
    with sqlite_vigil.db.session() as s:
        assert import_regions(s, path, actor="t", scope=Scope.everything()).created == 3
    bad = text.replace("53018101,Town,3", "53018101,Town,4")
    with sqlite_vigil.db.session() as s, pytest.raises(ImportRejected) as exc:
        import_regions(s, bad.encode(), actor="t", scope=Scope.everything())
    assert [(e.line, e.field) for e in exc.value.errors] == [(6, "level")]  # physical line, after a quoted newline


def test_rows_given_as_mappings(sqlite_vigil):
    rows = [{"code": "5301", "name": "K", "level": 1}, {"code": "530181", "name": "A", "parent": "5301"}]
    with sqlite_vigil.db.session() as s:
        assert import_regions(s, rows, actor="t", scope=Scope.everything()).created == 2
        with pytest.raises(InputError, match="unknown field"):
            import_models(s, [{"name": "x", "colour": "red"}], actor="t", scope=Scope.everything())
        with pytest.raises(ImportRejected) as exc:
            import_models(s, [{"name": "x", "h_res_px": 1920}], actor="t", scope=Scope.everything())
    assert {e.field for e in exc.value.errors} == {"v_res_px", "hfov_deg", "vfov_deg"}
