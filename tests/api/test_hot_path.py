"""The request hot path stays exact while it got cheaper.

- A token is resolved by one statement on every request (no cache): a revoked token, a deactivated
  user, an expired token and a changed scope hold from the next request on.
- The audit append (Core statements in the caller's transaction) keeps the chain and its anchor
  right, also when one session appends several entries or read the anchor before.
- The async dependencies hand every database call to a worker thread: no connection is checked
  out on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, update

from vigil.access.audit import record, verify_chain
from vigil.access.bootstrap import init_instance
from vigil.access.users import add_user, issue_token, principal_for_token, update_user
from vigil.api.app import create_app
from vigil.core.errors import AuthError
from vigil.core.ids import generate_device_id, level_of_code
from vigil.core.models import ApiToken, AuditEntry, Camera, Region, Role, User, utcnow

ROOT = "5301"


def _world(v) -> tuple[str, str]:
    """An instance with two towns and a user ``ops`` scoped to both; returns (admin password, ops token)."""
    password = init_instance(v, root_code=ROOT, root_name="昆明市").password
    with v.db.session() as s:
        s.add_all([Region(code="530102", name="五华区", level=int(level_of_code("530102")), parent_code=ROOT),
                   Region(code="530103", name="盘龙区", level=int(level_of_code("530102")), parent_code=ROOT)])
        s.flush()
        add_user(s, "ops", "ops-password-1", Role.DUTY_OFFICER, ["530103", "530102"])
    with v.db.session() as s:
        token = issue_token(s, s.scalar(select(User).where(User.name == "ops")))
    return password, token


def _resolve(v, token: str):
    with v.db.read_session() as rs:
        return principal_for_token(rs, token)


def test_principal_is_read_whole_from_one_statement(vigil):
    _, token = _world(vigil)
    p = _resolve(vigil, token)
    assert (p.name, p.role, p.scopes) == ("ops", Role.DUTY_OFFICER, ("530102", "530103"))  # every region, sorted
    with vigil.db.session() as s:
        update_user(s, "system", s.scalar(select(User).where(User.name == "ops")), regions=["530102"],
                    role=Role.MAINTENANCE, team="north")
    p = _resolve(vigil, token)
    assert (p.role, p.scopes, p.team) == (Role.MAINTENANCE, ("530102",), "north")  # the next lookup sees the change


@pytest.mark.parametrize("change", ["revoke", "deactivate", "expire"])
def test_a_token_stops_working_at_once(vigil, change):
    _, token = _world(vigil)
    assert _resolve(vigil, token).name == "ops"
    with vigil.db.session() as s:
        ops = s.scalar(select(User).where(User.name == "ops"))
        if change == "revoke":
            s.execute(update(ApiToken).where(ApiToken.user_id == ops.id).values(revoked=True))
        elif change == "deactivate":
            update_user(s, "system", ops, active=False)
        else:
            s.execute(update(ApiToken).where(ApiToken.user_id == ops.id)
                      .values(expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(AuthError):
        _resolve(vigil, token)
    with pytest.raises(AuthError):
        _resolve(vigil, token + "x")


def test_audit_appends_in_one_session_keep_the_chain_and_its_anchor(vigil):
    init_instance(vigil, root_code=ROOT, root_name="昆明市")
    with vigil.db.session() as s:
        assert verify_chain(s).ok  # this session has now loaded the anchor
        first = record(s, "alice", "camera.view", "camera:1", region=ROOT)
        second = record(s, "alice", "camera.view", "camera:2", region=ROOT, reason="case 7")
        assert second.seq == first.seq + 1 and second.prev_hash == first.hash
        report = verify_chain(s)  # reads the anchor again: it must be the new one
        assert report.ok, report.reason
    with vigil.db.session() as s:
        stored = s.get(AuditEntry, second.seq)
        assert (stored.hash, stored.detail) == (second.hash, {"reason": "case 7"})
        assert verify_chain(s).ok


def test_a_rolled_back_append_leaves_no_entry(vigil):
    init_instance(vigil, root_code=ROOT, root_name="昆明市")
    with vigil.db.session() as s:
        before = s.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1))
    with pytest.raises(RuntimeError), vigil.db.session() as s:
        record(s, "alice", "camera.view", "camera:1", region=ROOT)
        raise RuntimeError("the request failed")
    with vigil.db.session() as s:
        assert s.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)) == before
        assert verify_chain(s).ok


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_no_connection_is_taken_on_the_event_loop(sqlite_vigil):
    password, _ = _world(sqlite_vigil)
    cam = generate_device_id(ROOT, 1).value
    with sqlite_vigil.db.session() as s:
        s.add(Camera(id=cam, name="cam 1", region_code=ROOT, lon=102.7, lat=25.0, lifecycle="in_service"))
    seen: list[tuple[str, bool]] = []

    @event.listens_for(sqlite_vigil.db.engine, "checkout")
    def _checkout(*_):
        seen.append((threading.current_thread().name, _on_event_loop()))

    with TestClient(create_app(sqlite_vigil)) as c:
        token = c.post("/api/v1/auth/login", json={"username": "admin", "password": password}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        answers = [c.get(f"/api/v1/cameras/{cam}", headers=h),
                   c.patch(f"/api/v1/cameras/{cam}", json={"name": "renamed", "tilt_deg": 12}, headers=h),
                   c.post("/api/v1/cameras", json={"name": "new", "region_code": ROOT, "lon": 102.6, "lat": 25.1},
                          headers=h),
                   c.get("/api/v1/cameras", params={"limit": 5}, headers=h),
                   c.get("/api/v1/auth/me", headers=h),
                   c.get("/api/v1/cameras/" + generate_device_id(ROOT, 99).value, headers=h),
                   c.get("/api/v1/auth/me", headers={"Authorization": "Bearer nope"})]
    assert [r.status_code for r in answers] == [200, 200, 201, 200, 200, 404, 401]
    assert answers[1].json()["name"] == "renamed" and answers[1].headers["ETag"] == '"2"'
    assert len(seen) >= 10
    assert not [name for name, on_loop in seen if on_loop], seen
