"""A user's console language is remembered on the server (PATCH /auth/me), audited, and checked."""

from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import TOWN1, build_world
from vigil.api.app import create_app
from vigil.core.models import AuditEntry


def test_locale_is_saved_per_user_and_audited(vigil):
    w = build_world(vigil)
    c = TestClient(create_app(vigil), raise_server_exceptions=False)
    town, root = {"Authorization": f"Bearer {w.tokens[TOWN1]}"}, {"Authorization": f"Bearer {w.tokens['root']}"}
    assert c.get("/api/v1/auth/me", headers=town).json()["locale"] == ""
    r = c.patch("/api/v1/auth/me", headers=town, json={"locale": "zh-CN"})
    assert r.status_code == 200, r.text
    assert r.json()["locale"] == "zh-CN"
    assert c.get("/api/v1/auth/me", headers=town).json()["locale"] == "zh-CN"
    assert c.get("/api/v1/auth/me", headers=root).json()["locale"] == ""      # per user, not per instance
    bad = c.patch("/api/v1/auth/me", headers=town, json={"locale": "fr"})
    assert bad.status_code in (400, 422) and "zh-CN" in bad.json()["detail"]
    assert c.patch("/api/v1/auth/me", headers=town, json={"role": "admin"}).status_code == 422
    assert c.patch("/api/v1/auth/me", json={"locale": "en"}).status_code == 401
    with vigil.db.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.locale")).all()
        assert [(e.target, e.detail["locale"]) for e in rows] == [(f"user:admin-{TOWN1}", "zh-CN")]
