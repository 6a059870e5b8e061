"""Camera creates and patches with a short write transaction answer as they did in one long one.

The checks that only read run before the write transaction (:func:`vigil.registry.cameras.check_new_camera`,
:func:`~vigil.registry.cameras.check_camera_change`); the answer is built from the row written, not read again.
These tests pin what must not change with that: the answer equals the stored row and carries the version
this write produced (also when another writer commits right after), refusals keep their order and their
status, a request refused by those checks opens no write transaction, and a region or camera model deleted
between the checks and the write stores no bad row.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from factories import PREF, TOWN1, VILLAGE1, build_world
from vigil.access.audit import verify_chain
from vigil.access.users import principal_for_token
from vigil.api.app import create_app
from vigil.core.db import READ_ONLY
from vigil.core.errors import NotFoundError
from vigil.core.models import AuditEntry, Camera, CameraModel, Region
from vigil.registry import cameras as svc
from vigil.registry.schemas import CameraIn, CameraPatch
from vigil.registry.service import delete_region

EMPTY = "53018101202"  # a village with nothing in it, so that it can be deleted


@pytest.fixture
def api(vigil):
    w = build_world(vigil)
    with vigil.db.session() as s:
        s.add(Region(code=EMPTY, name="Village 1b", level=4, parent_code=TOWN1))
        s.add(CameraModel(name="Dome-2MP", h_res_px=1920, v_res_px=1080, hfov_deg=100, vfov_deg=56, unit_cost=500))
    return TestClient(create_app(vigil), raise_server_exceptions=False), w, vigil


def _h(w, who=TOWN1):
    return {"Authorization": f"Bearer {w.tokens[who]}"}


def _stored(c, w, cam_id):
    r = c.get(f"/api/v1/cameras/{cam_id}", headers=_h(w))
    assert r.status_code == 200, r.text
    return r.json(), r.headers["ETag"]


def test_the_answer_is_the_stored_row(api):
    c, w, _ = api
    r = c.post("/api/v1/cameras", headers=_h(w), json={
        "name": "North gate", "region_code": VILLAGE1, "site_id": w.sites[TOWN1], "lon": 102.71, "lat": 25.01,
        "model": "Bullet-4MP", "username": "op", "password": "pw-1", "main_url": "rtsp://127.0.0.9/main",
        "kind": "public_area", "lifecycle": "installed", "allow_basic_auth": True})
    assert r.status_code == 201, r.text
    created = r.json()
    stored, tag = _stored(c, w, created["id"])
    assert created == stored and tag == '"1"'
    assert created["model"] == "Bullet-4MP" and created["has_password"] and "pw-1" not in r.text
    for patch, model in (({"name": "North gate 2", "model": "Dome-2MP", "password": "", "lifecycle": "in_service"},
                          "Dome-2MP"),
                         ({"tilt_deg": 30.5, "site_id": None, "password": "pw-2"}, "Dome-2MP"),
                         ({"model": None}, None)):
        r = c.patch(f"/api/v1/cameras/{created['id']}", headers={**_h(w), "If-Match": tag}, json=patch)
        assert r.status_code == 200, r.text
        stored, new_tag = _stored(c, w, created["id"])
        assert (r.json(), r.headers["ETag"]) == (stored, new_tag)
        assert int(new_tag.strip('"')) == int(tag.strip('"')) + 1 and stored["model"] == model
        tag = new_tag


def test_the_answer_is_this_writes_version_when_another_writer_follows(api):
    c, w, v = api
    cam = w.cameras[TOWN1]
    with v.db.read_session() as rs:
        admin = principal_for_token(rs, w.tokens[TOWN1])
    followed = []

    def another_writer(_session):  # commits a second change as soon as the PATCH's transaction committed
        if not followed:
            followed.append(True)
            with v.db.session() as s:
                svc.update_camera(s, admin, cam, CameraPatch(name="changed by another writer"), v.box)

    event.listen(v.db.sessions, "after_commit", another_writer)
    try:
        r = c.patch(f"/api/v1/cameras/{cam}", headers=_h(w), json={"name": "mine"})
    finally:
        event.remove(v.db.sessions, "after_commit", another_writer)
    assert followed and r.status_code == 200, r.text
    assert (r.json()["name"], r.headers["ETag"]) == ("mine", '"2"')
    stored, tag = _stored(c, w, cam)
    assert (stored["name"], tag) == ("changed by another writer", '"3"')


# each row breaks two rules: the one answered first before this change is still the one answered
_BAD = "53018101001329999999"  # no such camera
_REFUSALS = [
    ("patch", TOWN1, _BAD, {"model": "no-such-model"}, {}, 404),
    ("patch", TOWN1, None, {"model": "no-such-model"}, {"If-Match": '"7"'}, 412),
    ("patch", f"planner-{TOWN1}", None, {"model": "no-such-model"}, {}, 403),
    ("patch", TOWN1, None, {"model": "no-such-model", "lifecycle": "planned"}, {}, 409),
    ("patch", TOWN1, None, {"model": "no-such-model", "site_id": 999_999}, {}, 404),
    ("patch", TOWN1, None, {"model": "no-such-model"}, {}, 422),
    ("patch", f"duty_officer-{TOWN1}", _BAD, {"name": "x"}, {}, 403),
    ("post", TOWN1, None, {"region_code": "53018102201", "model": "no-such-model"}, {}, 404),
    ("post", TOWN1, None, {"id": "53018101001320000001", "site_id": 999_999}, {}, 409),
    ("post", TOWN1, None, {"site_id": 999_999, "model": "no-such-model"}, {}, 404),
    ("post", TOWN1, None, {"model": "no-such-model"}, {}, 422),
    ("post", f"planner-{TOWN1}", None, {"lifecycle": "in_service", "region_code": "53018102201"}, {}, 422),
    ("post", f"duty_officer-{TOWN1}", None, {"region_code": "53018102201"}, {}, 403),
]


@pytest.mark.parametrize(("verb", "who", "cam", "body", "headers", "status"), _REFUSALS)
def test_refusals_keep_their_order(api, verb, who, cam, body, headers, status):
    c, w, v = api
    if verb == "post":
        r = c.post("/api/v1/cameras", headers=_h(w, who),
                   json={"name": "x", "region_code": VILLAGE1, "lon": 102.7, "lat": 25.0, **body})
    else:
        r = c.patch(f"/api/v1/cameras/{cam or w.cameras[TOWN1]}", headers={**_h(w, who), **headers}, json=body)
    assert r.status_code == status, r.text
    with v.db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(Camera)) == 2  # nothing stored
        assert s.scalar(select(Camera.version).where(Camera.id == w.cameras[TOWN1])) == 1


def _write_transactions(v):
    seen = []

    def begin(conn):
        if not conn.get_execution_options().get(READ_ONLY):
            seen.append(conn)
    event.listen(v.db.engine, "begin", begin)
    return seen, lambda: event.remove(v.db.engine, "begin", begin)


@pytest.mark.parametrize(("who", "body"), [
    (TOWN1, {"model": "no-such-model"}),
    (TOWN1, {"region_code": PREF}),  # outside the caller's scope
    (TOWN1, {"site_id": 999_999}),
    (f"planner-{TOWN1}", {"lifecycle": "in_service"}),
    (f"duty_officer-{TOWN1}", {}),
])
def test_a_create_refused_by_its_checks_takes_no_write_lock(api, who, body):
    c, w, v = api
    seen, stop = _write_transactions(v)
    try:
        r = c.post("/api/v1/cameras", headers=_h(w, who),
                   json={"name": "x", "region_code": VILLAGE1, "lon": 102.7, "lat": 25.0, **body})
    finally:
        stop()
    assert r.status_code in (403, 404, 422), r.text
    assert seen == []


def test_a_create_racing_a_region_delete_refuses_cleanly(api):
    _, w, v = api
    with v.db.read_session() as rs:
        admin = principal_for_token(rs, w.tokens["root"])
        new = svc.check_new_camera(rs, admin, CameraIn(name="late", region_code=EMPTY, lon=102.7, lat=25.0), v.box)
    with v.db.session() as s:  # another request deletes the (still empty) region in between
        delete_region(s, admin, EMPTY)
    with pytest.raises(NotFoundError, match=f"region {EMPTY} not found"), v.db.session() as s:
        svc.store_camera(s, admin, new)
    with v.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Camera).where(Camera.region_code == EMPTY)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == "camera.create")) == 0
        assert verify_chain(s).ok


def test_a_patch_racing_a_model_delete_stores_no_dangling_model(api):
    _, w, v = api
    cam = w.cameras[TOWN1]
    with v.db.read_session() as rs:
        admin = principal_for_token(rs, w.tokens["root"])
        change = svc.check_camera_change(rs, admin, CameraPatch(model="Dome-2MP", name="renamed"), v.box)
    with v.db.session() as s:  # the model goes (unused, so nothing else refuses it) before the patch is stored
        s.delete(s.scalar(select(CameraModel).where(CameraModel.name == "Dome-2MP")))
    with pytest.raises(IntegrityError), v.db.session() as s:  # the API answers it 409
        svc.apply_camera_change(s, admin, cam, change)
    with v.db.read_session() as s:
        assert s.execute(select(Camera.name, Camera.model_id, Camera.version).where(Camera.id == cam)).one() == (
            "Gate 1", None, 1)
