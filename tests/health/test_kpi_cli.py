"""The health commands are thin shells: kpi, alarm, workorder, webhook and report."""

from __future__ import annotations

import json

from healthkit import T0, add_camera, add_regions
from typer.testing import CliRunner

from vigil.cli import app
from vigil.core.context import Vigil
from vigil.health.models import CameraStatus, StatusChange


def test_health_commands(tmp_path):
    db, home = f"sqlite:///{tmp_path / 'v.db'}", str(tmp_path / "home")
    v = Vigil.open(db, home)
    with v.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201001", 1)
        s.add(StatusChange(camera_id=cam, ts=T0, state="down"))
        s.add(CameraStatus(camera_id=cam, state="down", since=T0))
    v.close()
    opts = ["--db", db, "--home", home]
    run = CliRunner().invoke
    r = run(app, ["workorder", "team-add", "acme", "--region", "53010201", "--sla-hours", "6", *opts])
    assert r.exit_code == 0, r.output
    r = run(app, ["webhook", "add", "ops", "http://127.0.0.1:9/hook", "--secret", "s" * 20, "--event", "alarm.*",
                  *opts])
    assert r.exit_code == 0, r.output
    assert "ops" in run(app, ["webhook", "list", *opts]).output
    r = run(app, ["alarm", "sync", *opts])
    assert r.exit_code == 0 and "raised 1" in r.output, r.output
    alarms = json.loads(run(app, ["alarm", "list", "--json", *opts]).output)
    assert [a["kind"] for a in alarms] == ["offline"]
    orders = json.loads(run(app, ["workorder", "list", "--json", *opts]).output)
    oid = str(orders[0]["id"])
    for args in (["assign", oid, "li.wei"], ["start", oid], ["resolve", oid, "--note", "cable"]):
        r = run(app, ["workorder", *args, *opts])
        assert r.exit_code == 0, r.output
    r = run(app, ["kpi", "--region", "53010201", "--period", "1d", "--end", "2026-11-01T12:00:00", "--json", *opts])
    body = json.loads(r.output)
    assert body["regions"][0]["online_rate"] == 0.0 and body["regions"][0]["open_workorders"] == 1
    r = run(app, ["kpi", *opts])
    assert r.exit_code == 0 and "5301" in r.output and "time-weighted" in r.output
    r = run(app, ["report", "daily", "--region", "53010201", "--date", "2026-11-01", "--out", str(tmp_path), *opts])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "daily-53010201-2026-11-01.pdf").exists()
