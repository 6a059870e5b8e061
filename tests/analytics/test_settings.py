"""The per-camera analytics switch: library, API (roles, scope, audit) and CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import TOWN1, TOWN2, build_world
from vigil.access.audit import verify_chain
from vigil.access.guard import Scope
from vigil.analytics.settings import enabled_cameras, set_analytics
from vigil.api.app import create_app
from vigil.core.errors import InputError, NotFoundError
from vigil.core.models import AuditEntry

ZONES = {"zones": [{"name": "yard", "polygon": [[0.1, 0.5], [0.9, 0.5], [0.9, 1], [0.1, 1]],
                    "rules": [{"type": "intrusion", "labels": ["person"]}]}]}


@pytest.fixture
def world(vigil):
    w = build_world(vigil)
    return TestClient(create_app(vigil)), w, vigil


def _h(w, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {w.tokens[who]}"}


def test_api_toggle_is_scoped_role_checked_and_audited(world):
    client, w, v = world
    cam, other = w.cameras[TOWN1], w.cameras[TOWN2]
    url = f"/api/v1/analytics/cameras/{cam}"
    assert client.get(url, headers=_h(w, TOWN1)).json()["enabled"] is False
    r = client.put(url, json={"enabled": True, "zones": ZONES}, headers=_h(w, f"duty_officer-{TOWN1}"))
    assert r.status_code == 200 and r.json()["enabled"] and r.json()["zones"] == ZONES
    assert r.json()["updated_by"] == f"duty_officer-{TOWN1}"
    # zones are kept when only the switch changes
    r = client.put(url, json={"enabled": False}, headers=_h(w, TOWN1))
    assert r.status_code == 200 and not r.json()["enabled"] and r.json()["zones"] == ZONES
    assert client.put(url, json={"enabled": True}, headers=_h(w, f"investigator-{TOWN1}")).status_code == 403
    assert client.put(f"/api/v1/analytics/cameras/{other}", json={"enabled": True},
                      headers=_h(w, TOWN1)).status_code == 404
    bad = client.put(url, json={"enabled": True, "zones": {"zones": [{"name": "x"}]}}, headers=_h(w, TOWN1))
    assert bad.status_code in (400, 422) and "Traceback" not in bad.text
    client.put(f"/api/v1/analytics/cameras/{other}", json={"enabled": True}, headers=_h(w, TOWN2))
    mine = client.get("/api/v1/analytics/cameras", headers=_h(w, f"auditor-{TOWN1}")).json()
    assert [i["camera_id"] for i in mine["items"]] == [cam]
    both = client.get("/api/v1/analytics/cameras", params={"enabled": True}, headers=_h(w, "root")).json()
    assert [i["camera_id"] for i in both["items"]] == [other]
    with v.db.session() as s:
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("analytics.%"))
                                .order_by(AuditEntry.seq)))
        assert actions == ["analytics.enable", "analytics.disable", "analytics.enable"]
        assert verify_chain(s).ok


def test_enabled_cameras_skip_disabled_retired_and_bad(world):
    _, w, v = world
    cam, other = w.cameras[TOWN1], w.cameras[TOWN2]
    with v.db.session() as s:
        set_analytics(s, cam, enabled=True, zones=ZONES, scope=Scope.everything())
        set_analytics(s, other, enabled=True, scope=Scope.everything())
        with pytest.raises(NotFoundError):
            set_analytics(s, "53010200001320009999", enabled=True, scope=Scope.everything())
        with pytest.raises(InputError):
            set_analytics(s, cam, enabled=True, zones={"zones": "nope"}, scope=Scope.everything())
    jobs, problems = enabled_cameras(v)
    assert [j.camera_id for j in jobs] == [cam, other] and problems == []
    assert jobs[0].zones == ZONES and jobs[0].url == "rtsp://127.0.0.1/main"  # no substream: the main stream
    with v.db.session() as s:
        from vigil.core.models import Camera

        s.get(Camera, other).lifecycle = "retired"
        set_analytics(s, cam, enabled=False, scope=Scope.everything())
    assert enabled_cameras(v) == ([], [])


@pytest.mark.slow  # many CLI subprocesses or a long stream: `make test-slow`
def test_cli_enable_list_disable(tmp_path):
    from video_helpers_bridge import add_camera

    from vigil.access.bootstrap import init_instance
    from vigil.core.context import Vigil

    home = tmp_path / "home"
    v = Vigil.open(None, str(home))
    init_instance(v, root_code="5301", root_name="昆明市")
    with v.db.session() as s:
        cam = add_camera(s, "rtsp://127.0.0.1:9/cam").id
    v.close()
    env = {**os.environ, "VIGIL_HOME": str(home)}
    env.pop("VIGIL_DB", None)
    vigil = [str(Path(sys.executable).with_name("vigil")), "analytics"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*vigil, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    zones = tmp_path / "zones.yaml"
    zones.write_text(json.dumps(ZONES))
    r = run("enable", cam, "--zones", str(zones))
    assert r.returncode == 0 and "1 zone(s)" in r.stdout, r.stderr
    listed = json.loads(run("list", "--json").stdout)
    assert listed[0]["camera_id"] == cam and listed[0]["enabled"] and listed[0]["zones"] == ZONES
    assert run("disable", cam).returncode == 0
    assert "disabled" in run("list").stdout
    for args in (("enable", "53010200001320009999"), ("enable", cam, "--zones", str(tmp_path / "missing.yaml"))):
        bad = run(*args)
        assert bad.returncode == 2 and "error" in bad.stderr and "Traceback" not in bad.stderr
