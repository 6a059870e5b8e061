"""Accounts an attacker could abuse: a second account as the "second person", self-deactivation,
losing the last admin, tokens that outlive a password change. Each test replays the attack."""

import getpass
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import PREF, TOWN1, build_world
from vigil.access.users import set_password
from vigil.api.app import create_app
from vigil.core.models import AuditEntry, User

VIGIL = str(Path(sys.executable).with_name("vigil"))
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
def api(vigil):
    w = build_world(vigil)
    return TestClient(create_app(vigil), raise_server_exceptions=False), w, vigil


def h(tok):
    return {"Authorization": f"Bearer {tok}"}


def _login(c, name, password):
    r = c.post("/api/v1/auth/login", json={"username": name, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def _new_user(c, tok, name, role="admin", regions=(PREF,)):
    r = c.post("/api/v1/users", headers=h(tok), json={"name": name, "role": role, "regions": list(regions),
                                                        "password": "a-long-password"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _request(c, tok, cam):
    r = c.post("/api/v1/video/retrievals", headers=h(tok), json={
        "camera_id": cam, "start": T0.isoformat(), "end": (T0 + timedelta(seconds=30)).isoformat(),
        "kind": "export", "reason": "case 2026-201: burglary"})
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "pending"
    return r.json()["id"]


def test_an_admin_cannot_approve_through_an_account_they_created(api):
    c, w, v = api
    cam = w.cameras[TOWN1]  # on a class-1 site: needs a second person
    root = w.tokens["root"]
    _new_user(c, root, "shadow")  # the admin's own second account
    shadow = _login(c, "shadow", "a-long-password")
    _new_user(c, shadow, "shadow-2")  # ... and one made through it
    shadow2 = _login(c, "shadow-2", "a-long-password")
    with v.db.session() as s:
        ids = {u.name: u for u in s.scalars(select(User).where(User.name.in_(["admin", "shadow", "shadow-2"])))}
        assert ids["shadow"].created_by == ids["admin"].id and ids["shadow-2"].created_by == ids["shadow"].id
        created = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.create",
                                                     AuditEntry.target == "user:shadow")).one()
        assert created.actor == "admin"

    rid = _request(c, root, cam)
    for approver, creator in ((shadow, "admin created the account shadow"),
                              (shadow2, "admin created the account shadow-2")):
        r = c.post(f"/api/v1/video/retrievals/{rid}/approve", headers=h(approver))
        assert r.status_code == 403, r.text
        assert "independent second person" in r.json()["detail"] and creator in r.json()["detail"]
    # the other way round: the requester's creator may not approve either
    rid2 = _request(c, shadow, cam)
    r = c.post(f"/api/v1/video/retrievals/{rid2}/approve", headers=h(root))
    assert r.status_code == 403 and "admin created the account shadow" in r.json()["detail"]
    # a duty officer nobody of them created is a real second person
    officer = w.tokens[f"duty_officer-{TOWN1}"]
    r = c.post(f"/api/v1/video/retrievals/{rid}/approve", headers=h(officer))
    assert r.status_code == 200 and r.json()["state"] == "approved", r.text


def test_an_admin_cannot_deactivate_themselves_or_the_last_admin(api):
    c, w, v = api
    root = w.tokens["root"]
    with v.db.session() as s:
        for u in s.scalars(select(User).where(User.role == "admin", User.name != "admin")):
            u.active = False  # leave the root admin as the only active admin
        root_id = s.scalar(select(User.id).where(User.name == "admin"))
    r = c.delete(f"/api/v1/users/{root_id}", headers=h(root))
    assert r.status_code == 409 and "your own account" in r.json()["detail"]
    r = c.patch(f"/api/v1/users/{root_id}", headers=h(root), json={"active": False})
    assert r.status_code == 409 and "your own account" in r.json()["detail"]
    r = c.patch(f"/api/v1/users/{root_id}", headers=h(root), json={"role": "auditor"})
    assert r.status_code == 409 and "last active admin" in r.json()["detail"]
    # with a second admin, the first may step down, but that one is then the last
    other = _new_user(c, root, "deputy")
    deputy = _login(c, "deputy", "a-long-password")
    assert c.patch(f"/api/v1/users/{root_id}", headers=h(deputy), json={"role": "auditor"}).status_code == 200
    r = c.delete(f"/api/v1/users/{other}", headers=h(deputy))
    assert r.status_code == 409 and "your own account" in r.json()["detail"]
    with v.db.session() as s:
        assert s.scalar(select(User.role).where(User.id == root_id)) == "auditor"
        assert s.get(User, other).active


def test_a_password_change_revokes_every_token(api):
    c, w, v = api
    old1 = _login(c, "admin", w.admin_password)
    old2 = _login(c, "admin", w.admin_password)
    assert c.get("/api/v1/auth/me", headers=h(old1)).status_code == 200
    with v.db.session() as s:
        set_password(s, "admin", "a-brand-new-password", actor="admin")
    for tok in (old1, old2, w.tokens["root"]):
        assert c.get("/api/v1/auth/me", headers=h(tok)).status_code == 401
    assert c.get("/api/v1/auth/me", headers=h(w.tokens[f"planner-{TOWN1}"])).status_code == 200  # others keep theirs
    fresh = _login(c, "admin", "a-brand-new-password")
    assert c.get("/api/v1/auth/me", headers=h(fresh)).status_code == 200
    with v.db.session() as s:
        e = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.password")).one()
        assert e.detail["tokens_revoked"] == 3


def test_cli_user_add_is_audited_with_the_person_at_the_keyboard(sqlite_vigil):
    v = sqlite_vigil
    build_world(v)
    out = subprocess.run([VIGIL, "user", "add", "night-chief", "--role", "duty_officer", "--region", TOWN1,
                          "--db", v.settings.db_url, "--home", str(v.settings.home)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    with v.db.session() as s:
        e = s.scalars(select(AuditEntry).where(AuditEntry.target == "user:night-chief")).one()
        assert e.action == "user.create" and e.actor == f"cli:{getpass.getuser()}"
        init = s.scalars(select(AuditEntry).where(AuditEntry.target == "user:admin",
                                                  AuditEntry.action == "user.create")).one()
        assert init.actor == "vigil-init"
