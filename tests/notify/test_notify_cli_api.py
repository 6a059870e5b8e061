"""`vigil notify` and /api/v1/notify/channels: configure a channel, test it against a local robot, never show its key."""

from __future__ import annotations

from fastapi.testclient import TestClient
from robotkit import DING_SECRET, KEY, TOKEN, RobotServer
from sqlalchemy import select
from typer.testing import CliRunner

from factories import TOWN1, TOWN2, VILLAGE1, build_world
from vigil.api.app import create_app
from vigil.cli import app as cli
from vigil.core.context import Vigil
from vigil.core.models import AuditEntry
from vigil.notify.models import Webhook


def test_cli_add_list_test_remove(tmp_path):
    home = str(tmp_path / "home")
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--home", home]).exit_code == 0
    with RobotServer("dingtalk") as srv:
        # the URL (with its token) and the signing secret come from hidden prompts, never from argv
        r = runner.invoke(cli, ["notify", "add", "duty-ding", "--kind", "dingtalk", "--event", "alarm.*",
                                "--mention", "13800000000", "--home", home], input=f"{srv.url}\n{DING_SECRET}\n")
        assert r.exit_code == 0, r.output
        assert TOKEN not in r.output and "access_token=%2A%2A%2A" in r.output
        listed = runner.invoke(cli, ["notify", "list", "--home", home], terminal_width=200)
        assert "duty-ding" in listed.output and "sealed" in listed.output and TOKEN not in listed.output
        tested = runner.invoke(cli, ["notify", "test", "duty-ding", "--home", home])
        assert tested.exit_code == 0 and "delivered" in tested.output, tested.output
    assert len(srv.accepted()) == 1 and srv.requests[0]["json"]["markdown"]["title"] == "[Vigil] 测试通知"
    bad = runner.invoke(cli, ["notify", "add", "x", "--kind", "sms", "--home", home])
    assert bad.exit_code == 2 and "choose one of webhook" in bad.output
    gone = runner.invoke(cli, ["notify", "test", "nope", "--home", home])
    assert gone.exit_code == 2 and "channel nope not found" in gone.output
    assert runner.invoke(cli, ["notify", "remove", "duty-ding", "--home", home]).exit_code == 0
    v = Vigil.open(None, home)
    with v.db.session() as s:
        assert s.scalar(select(Webhook)) is None
        actions = [a.action for a in s.scalars(select(AuditEntry))]
        assert "notify.create" in actions and "notify.delete" in actions
    v.close()


def test_api_channels_in_scope_and_write_only_secrets(sqlite_vigil):
    v = sqlite_vigil
    w = build_world(v)
    admin = {"Authorization": f"Bearer {w.tokens[TOWN1]}"}
    duty = {"Authorization": f"Bearer {w.tokens[f'duty_officer-{TOWN1}']}"}
    client = TestClient(create_app(v), raise_server_exceptions=False)
    with RobotServer("wecom") as srv:
        body = {"name": "town1-wecom", "kind": "wecom", "url": srv.url, "region_code": VILLAGE1, "format": "text"}
        r = client.post("/api/v1/notify/channels", json=body, headers=admin)
        assert r.status_code == 201, r.text
        ch = r.json()
        assert KEY not in r.text and ch["url"].endswith("key=%2A%2A%2A") and ch["options"]["format"] == "text"
        assert client.post("/api/v1/notify/channels", json=body, headers=duty).status_code == 403
        other = client.post("/api/v1/notify/channels", json={**body, "name": "b", "region_code": TOWN2}, headers=admin)
        assert other.status_code == 404
        every = client.post("/api/v1/notify/channels", json={**body, "name": "c", "region_code": ""}, headers=admin)
        assert every.status_code == 422 and "inside your scope" in every.text
        listed = client.get("/api/v1/notify/channels", headers=admin)
        assert [c["name"] for c in listed.json()] == ["town1-wecom"] and KEY not in listed.text
        t = client.post(f"/api/v1/notify/channels/{ch['id']}/test", headers=admin)
        assert t.json() == {"state": "delivered", "error": ""}
    assert srv.accepted()[0]["json"]["text"]["content"].startswith("[Vigil] 测试通知")
    assert client.delete(f"/api/v1/notify/channels/{ch['id']}", headers=admin).status_code == 204
    assert client.get("/api/v1/notify/channels", headers=admin).json() == []
