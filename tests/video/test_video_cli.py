"""`vigil record` and `vigil retrieve` end to end: record from real RTSP, request, approve, export, verify."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from video_helpers import add_camera

from vigil.access.audit import verify_chain
from vigil.access.users import add_user
from vigil.video.models import RecordingSegment

VIGIL = str(Path(sys.executable).with_name("vigil"))


def _run(v, *args, user=None, ok=True):
    env = dict(os.environ, VIGIL_PASSWORD="a-long-password") if user else dict(os.environ)
    extra = ["--user", user] if user else []
    res = subprocess.run([VIGIL, *args, *extra, "--db", v.settings.db_url, "--home", str(v.settings.home)],
                         capture_output=True, text=True, env=env, timeout=60)
    assert (res.returncode == 0) == ok, res.stdout + res.stderr
    return res.stdout + res.stderr


def test_record_then_retrieve_with_approval(sqlite_vigil, rtsp_server):
    v = sqlite_vigil
    with v.db.session() as s:
        cam = add_camera(s, rtsp_server.url, protection_class=1).id
        add_user(s, "ivan", "a-long-password", "investigator", ["530102"])
        add_user(s, "dora", "a-long-password", "duty_officer", ["5301"])
    out = _run(v, "record", "run", "--segment", "2", "--for", "6")
    assert "segment(s) closed" in out
    with v.db.session() as s:
        segs = list(s.scalars(select(RecordingSegment).order_by(RecordingSegment.start)))
    assert len(segs) >= 2
    start, end = segs[0].start.isoformat(), (segs[-1].end - timedelta(milliseconds=1)).isoformat()
    out = _run(v, "retrieve", "request", cam, "--start", start, "--end", end, "--kind", "export",
               "--reason", "case 2026-119: hit and run", user="ivan")
    assert "pending" in out
    rid = out.split()[1].rstrip(":")
    assert "second person" in _run(v, "retrieve", "export", rid, user="ivan", ok=False)
    assert "approved by dora" in _run(v, "retrieve", "approve", rid, user="dora")
    out = _run(v, "retrieve", "export", rid, user="ivan")
    folder = out.split("\n")[0].split(": ", 1)[1].strip()
    res = subprocess.run([VIGIL, "retrieve", "verify", folder, "--public-key", str(v.settings.home / "signing.pub")],
                         capture_output=True, text=True)
    assert "export verified" in res.stdout, res.stdout + res.stderr
    with v.db.session() as s:
        assert verify_chain(s).ok
