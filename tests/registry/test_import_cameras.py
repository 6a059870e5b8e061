"""Camera import: generated and validated GB/T 28181 IDs, encrypted credentials, upsert, all-or-nothing."""

from __future__ import annotations

import json

import pytest
from importkit import CAMERA_HEADER, CAMERAS_CSV, counts, seed, write
from sqlalchemy import select

from vigil.access.guard import Scope
from vigil.core.errors import ImportRejected
from vigil.core.ids import DeviceId
from vigil.core.models import AuditEntry, Camera, Site
from vigil.registry.io import import_cameras


@pytest.fixture
def city(vigil):
    seed(vigil)
    return vigil


def _imp(v, src, **kw):
    with v.db.session() as s:
        return import_cameras(s, src, box=v.box, actor="test", **{"scope": Scope.everything(), **kw})


def test_import_generates_ids_encrypts_and_is_idempotent(city, tmp_path):
    path = write(tmp_path, "cams.csv", CAMERAS_CSV)
    rep = _imp(city, path)
    assert (rep.rows, rep.created, rep.updated, rep.unchanged, rep.generated_ids) == (4, 4, 0, 0, 3)
    with city.db.session() as s:
        cams = {c.name: c for c in s.scalars(select(Camera))}
        sites = {x.name: x.id for x in s.scalars(select(Site))}
    ids = [c.id for c in cams.values()]
    assert len(set(ids)) == 4
    for c in cams.values():
        d = DeviceId.parse(c.id)
        assert d.belongs_to_region(c.region_code) and d.is_camera
    # generated serials continue after the highest serial under the centre code, including the file's own
    assert cams["Gate East"].id == "53018101001320000008" and cams["Gate West"].id == "53018101001320000009"
    assert cams["Square North"].id == "53018102001320000001"
    east = cams["Gate East"]
    assert east.password_enc and b"s3cret-1" not in east.password_enc and city.box.open(east.password_enc) == "s3cret-1"
    assert east.site_id == sites["Gas 1"] and cams["Gate West"].site_id == sites["School"]  # site of the town above
    assert cams["Square North"].lifecycle == "in_service" and cams["Gate West"].password_enc is None
    assert cams["Gate West"].model.name == "Dome-2MP" and cams["School Yard"].model_id is None
    rep = _imp(city, path)
    assert (rep.created, rep.updated, rep.unchanged, rep.generated_ids) == (0, 0, 4, 0)
    with city.db.session() as s:
        assert sorted(s.scalars(select(Camera.id))) == sorted(ids)
        audits = s.scalars(select(AuditEntry).where(AuditEntry.action == "cameras.import")).all()
    assert [a.detail["created"] for a in audits] == [4, 0]  # one entry per import, not per row
    assert "s3cret" not in json.dumps([a.detail for a in audits])


def test_changes_are_updates_and_absent_columns_are_kept(city):
    _imp(city, CAMERAS_CSV.encode())
    changed = CAMERAS_CSV.replace("s3cret-1", "n3w-secret").replace("Square North,53018102,Square,102.80",
                                                                     "Square North,53018102,Square,102.81")
    rep = _imp(city, changed.encode())
    assert (rep.created, rep.updated, rep.unchanged) == (0, 2, 2)
    with city.db.session() as s:
        east = s.scalar(select(Camera).where(Camera.name == "Gate East"))
        assert city.box.open(east.password_enc) == "n3w-secret"
    # a file without the password (or other optional) columns leaves them as they are
    slim = "id,name,region,lon,lat\n" + f"{east.id},Gate East,53018101001,102.725,25.005\n"
    rep = _imp(city, slim.encode())
    assert (rep.updated, rep.unchanged) == (0, 1)
    with city.db.session() as s:
        east2 = s.get(Camera, east.id)
        assert city.box.open(east2.password_enc) == "n3w-secret" and east2.height_m == 6.0


def test_centre_code_of_another_region_is_rejected_clearly(city):
    text = CAMERA_HEADER + "\n53018102001320000001,Stray,53018101001,,102.7,25.0,,,,,,,,,,,\n"
    with pytest.raises(ImportRejected) as exc:
        _imp(city, text.encode())
    (e,) = exc.value.errors
    assert (e.line, e.field) == (2, "id")
    assert "centre code 53018102" in e.reason and "does not belong to region 53018101001" in e.reason
    assert "53018101" in e.reason
    assert counts(city)["cameras"] == 0


BAD_ROWS = [  # (row, field, words in the reason)
    ("1234,Short id,53018101,,102.7,25.0,,,,,,,,,,,", "id", "expected 20"),
    ("53018101002000000001,Server,53018101,,102.7,25.0,,,,,,,,,,,", "id", "not a camera"),
    (",No region,,,102.7,25.0,,,,,,,,,,,", "region", "required"),
    (",Lost,53019999,,102.7,25.0,,,,,,,,,,,", "region", "does not exist"),
    (",,53018101,,102.7,25.0,,,,,,,,,,,", "name", "required"),
    (",Far east,53018101,,190,25.0,,,,,,,,,,,", "lon", "out of range"),
    (",Far north,53018101,,102.7,95,,,,,,,,,,,", "lat", "out of range"),
    (",Text lat,53018101,,102.7,north,,,,,,,,,,,", "lat", "not a number"),
    (",Tall,53018101,,102.7,25.0,900,,,,,,,,,,", "height_m", "out of range"),
    (",Spin,53018101,,102.7,25.0,,360,,,,,,,,,", "heading_deg", "out of range"),
    (",Tilt,53018101,,102.7,25.0,,,x,,,,,,,,", "tilt_deg", "not a number"),
    (",Kind,53018101,,102.7,25.0,,,,,spaceship,,,,,,", "kind", "not one of"),
    (",Owner,53018101,,102.7,25.0,,,,,,aliens,,,,,", "owner", "not one of"),
    (",Life,53018101,,102.7,25.0,,,,,,,broken,,,,", "lifecycle", "not one of"),
    (",Model,53018101,,102.7,25.0,,,,NoSuchCam,,,,,,,", "model", "unknown camera model"),
    (",Site,53018101,Nowhere,102.7,25.0,,,,,,,,,,,", "site", "no site named"),
    (",Site below,53018101,Gas 1,102.7,25.0,,,,,,,,,,,", "site", "no site named"),  # Gas 1 is in a village
    (",Url,53018101,,102.7,25.0,,,,,,,,ftp://x/y,,,", "main_url", "must start with rtsp://"),
    (",Url pw,53018101,,102.7,25.0,,,,,,,,,rtsp://u:p@127.0.0.1/s,,", "sub_url", "must not contain credentials"),
    ("53018101001320000007,Dup A,53018101,,102.7,25.0,,,,,,,,,,,", "id", None),
    ("53018101001320000007,Dup B,53018101,,102.7,25.0,,,,,,,,,,,", "id", "already used on line"),
    (",Twin,53018101,,102.7,25.0,,,,,,,,,,,", "name", None),
    (",Twin,53018101,,102.7,25.0,,,,,,,,,,,", "name", "same region and name"),
    (",Fields,53018101,,102.7,25.0", "(row)", "has 6 fields"),
]


def test_every_bad_row_is_reported_and_nothing_is_stored(city):
    good = CAMERAS_CSV.strip().splitlines()[1:3]
    rows = [r for r, _, _ in BAD_ROWS]
    text = "\n".join([CAMERA_HEADER, good[0], *rows, good[1]]) + "\n"
    before = counts(city)
    with pytest.raises(ImportRejected) as exc:
        _imp(city, text.encode(), name="cams.csv")
    got = {(e.line, e.field): e.reason for e in exc.value.errors}
    expected = {(i + 3, f): why for i, (_, f, why) in enumerate(BAD_ROWS) if why}
    assert set(got) == set(expected), sorted(set(got) ^ set(expected))
    for key, why in expected.items():
        assert why in got[key], (key, got[key])
    assert exc.value.source == "cams.csv"
    assert counts(city) == before  # the good rows were not stored either


def test_dry_run_counts_and_stores_nothing(city):
    before = counts(city)
    rep = _imp(city, CAMERAS_CSV.encode(), dry_run=True)
    assert (rep.dry_run, rep.created, rep.generated_ids) == (True, 4, 3)
    assert counts(city) == before
    with pytest.raises(ImportRejected):
        _imp(city, (CAMERAS_CSV + ",x,53018101,,500,0,,,,,,,,,,,\n").encode(), dry_run=True)


def test_geojson_points(city, tmp_path):
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [102.75, 25.02]},
         "properties": {"id": None, "name": "Geo 1", "region": "53018102001", "height_m": 7, "kind": "high_point",
                        "password": "pw", "username": "admin"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]},
         "properties": {"name": "Geo 2", "region": "53018102001"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [102.75, 125]},
         "properties": {"name": "Geo 3", "region": "53018102001"}}]}
    path = write(tmp_path, "cams.geojson", json.dumps(fc))
    with pytest.raises(ImportRejected) as exc:
        _imp(city, path)
    assert {(e.line, e.field) for e in exc.value.errors} == {(2, "geometry"), (3, "lat")}
    fc["features"] = fc["features"][:1]
    path.write_text(json.dumps(fc))
    assert _imp(city, path).created == 1
    assert _imp(city, path).unchanged == 1
    with city.db.session() as s:
        cam = s.scalar(select(Camera).where(Camera.name == "Geo 1"))
    assert (cam.lon, cam.lat, cam.height_m, cam.kind) == (102.75, 25.02, 7.0, "high_point")
    assert cam.id.startswith("53018102") and city.box.open(cam.password_enc) == "pw"


def test_scopes_limit_the_rows_an_operator_may_import(city):
    with pytest.raises(ImportRejected) as exc:
        _imp(city, CAMERAS_CSV.encode(), scope=Scope.of(["53018101"]))
    assert [(e.line, e.field) for e in exc.value.errors] == [(5, "region")]
    assert "region 53018102 not found" in exc.value.errors[0].reason
    assert counts(city)["cameras"] == 0


def test_stored_names_make_id_less_rows_unambiguous(city):
    with city.db.session() as s:
        for i in (1, 2):
            s.add(Camera(id=f"5301810200132000000{i}", name="Twin", region_code="53018102", lon=102.8, lat=25.1))
    text = CAMERA_HEADER + "\n,Twin,53018102,,102.8,25.1,,,,,,,,,,,\n"
    with pytest.raises(ImportRejected, match="2 stored cameras in region 53018102 are named 'Twin'"):
        _imp(city, text.encode())


def test_lifecycle_only_moves_forward(city):
    _imp(city, CAMERAS_CSV.encode())
    retired = CAMERAS_CSV.replace("gas_station,public_security,in_service", "gas_station,public_security,retired")
    assert _imp(city, retired.encode()).updated == 1
    back = CAMERAS_CSV.replace("key_site,town,installed", "key_site,town,planned")
    with pytest.raises(ImportRejected) as exc:
        _imp(city, back.encode())
    assert [(e.line, e.field) for e in exc.value.errors] == [(2, "lifecycle"), (3, "lifecycle")]
    assert "from retired to in_service" in exc.value.errors[0].reason
