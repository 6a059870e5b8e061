"""The video API: retrieval requests and approvals, audited browser playback, exports, masks, scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from video_helpers import add_camera, make_segments

from vigil.access.audit import verify_chain
from vigil.access.users import add_user, issue_token
from vigil.api.app import create_app
from vigil.core.models import AuditEntry

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@pytest.fixture
def api(sqlite_vigil, vtest_h264):
    v = sqlite_vigil
    with v.db.session() as s:
        cam = add_camera(s, "rtsp://127.0.0.1:9/x", sensitive=True).id
        add_camera(s, "rtsp://127.0.0.1:9/y", cam_id="53010300001320000009", region="530103")
        tok = {}
        for name, role, region in (("ivan", "investigator", "530102"), ("dora", "duty_officer", "5301"),
                                   ("olga", "duty_officer", "530103"), ("root", "admin", "5301")):
            tok[name] = {"Authorization": f"Bearer {issue_token(s, add_user(s, name, 'a-long-password', role, [region]))}"}
    make_segments(v, cam, vtest_h264, T0, seconds=6, seg_s=2)
    return TestClient(create_app(v)), v, cam, tok


def _count(v, action):
    with v.db.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


def test_request_approve_play_and_export_over_http(api):
    client, v, cam, tok = api
    body = {"camera_id": cam, "start": T0.isoformat(), "end": (T0 + timedelta(seconds=5)).isoformat(),
            "kind": "export", "reason": "case 2026-120: assault near the gate"}
    assert client.post("/api/v1/video/retrievals", json={**body, "reason": "  "}, headers=tok["ivan"]).status_code == 422
    assert client.post("/api/v1/video/retrievals", json=body, headers=tok["olga"]).status_code == 404
    r = client.post("/api/v1/video/retrievals", json=body, headers=tok["ivan"])
    assert r.status_code == 201 and r.json()["state"] == "pending"
    rid = r.json()["id"]
    assert client.get(f"/api/v1/video/retrievals/{rid}/playback.mp4", headers=tok["ivan"]).status_code == 403
    assert client.post(f"/api/v1/video/retrievals/{rid}/approve", headers=tok["ivan"]).status_code == 403
    assert client.post(f"/api/v1/video/retrievals/{rid}/approve", headers=tok["olga"]).status_code == 404
    assert [x["id"] for x in client.get("/api/v1/video/retrievals?state=pending",
                                        headers=tok["dora"]).json()["items"]] == [rid]
    r = client.post(f"/api/v1/video/retrievals/{rid}/approve", json={"note": "ok"}, headers=tok["dora"])
    assert r.json()["state"] == "approved" and r.json()["approver"] == "dora"
    r = client.get(f"/api/v1/video/retrievals/{rid}/playback.mp4", headers=tok["ivan"])
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4" and r.content[4:8] == b"ftyp"
    part = client.get(f"/api/v1/video/retrievals/{rid}/playback.mp4",
                      headers={**tok["ivan"], "Range": "bytes=1000-1999"})
    assert part.status_code == 206 and len(part.content) == 1000
    assert _count(v, "video.view") == 1  # the playback, not each byte range
    r = client.post(f"/api/v1/video/retrievals/{rid}/export", headers=tok["ivan"])
    assert r.status_code == 201
    exp = r.json()
    clip = exp["manifest"]["files"][0]["name"]
    got = client.get(f"/api/v1/video/exports/{exp['id']}", params={"file": clip}, headers=tok["ivan"])
    import hashlib

    assert hashlib.sha256(got.content).hexdigest() == exp["manifest"]["files"][0]["sha256"]
    assert client.get(f"/api/v1/video/exports/{exp['id']}", params={"file": "../vigil.db"},
                      headers=tok["ivan"]).status_code == 404
    assert client.get(f"/api/v1/video/exports/{exp['id']}", headers=tok["olga"]).status_code == 404
    assert _count(v, "video.export") == 1 and _count(v, "video.export.download") == 1
    with v.db.session() as s:
        assert verify_chain(s).ok


def test_recordings_and_masks(api):
    client, v, cam, tok = api
    r = client.get(f"/api/v1/video/cameras/{cam}/recordings",
                   params={"start": T0.isoformat(), "end": (T0 + timedelta(minutes=1)).isoformat()},
                   headers=tok["ivan"])
    assert len(r.json()["segments"]) == 3
    masks = [{"name": "window", "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.4]]}]
    assert client.put(f"/api/v1/video/cameras/{cam}/masks", json=masks, headers=tok["dora"]).status_code == 403
    bad = [{"name": "x", "polygon": [[0.1, 0.1], [1.3, 0.1], [0.3, 0.4]]}]
    assert client.put(f"/api/v1/video/cameras/{cam}/masks", json=bad, headers=tok["root"]).status_code == 422
    assert client.put(f"/api/v1/video/cameras/{cam}/masks", json=masks, headers=tok["root"]).status_code == 200
    got = client.get(f"/api/v1/video/cameras/{cam}/masks", headers=tok["ivan"]).json()["masks"]
    assert got[0]["polygon"] == masks[0]["polygon"]
    assert client.get(f"/api/v1/video/cameras/{cam}/masks", headers=tok["olga"]).status_code == 404
