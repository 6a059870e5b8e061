"""`vigil record` and `vigil retrieve` end to end: record from real RTSP, survive kill -9, request, approve,
export, verify."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from test_recorder import check_index, gaps, segments
from video_helpers import add_camera, wait_for

from vigil.access.audit import verify_chain
from vigil.access.users import add_user

VIGIL = str(Path(sys.executable).with_name("vigil"))


def _run(v, *args, user=None, ok=True):
    env = dict(os.environ, VIGIL_PASSWORD="a-long-password") if user else dict(os.environ)
    extra = ["--user", user] if user else []
    res = subprocess.run([VIGIL, *args, *extra, "--db", v.settings.db_url, "--home", str(v.settings.home)],
                         capture_output=True, text=True, env=env, timeout=60)
    assert (res.returncode == 0) == ok, res.stdout + res.stderr
    return res.stdout + res.stderr


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


@pytest.mark.slow  # many CLI subprocesses or a long stream: `make test-slow`
def test_record_then_retrieve_with_approval(sqlite_vigil, rtsp_server):
    v = sqlite_vigil
    with v.db.session() as s:
        cam = add_camera(s, rtsp_server.url, protection_class=1).id
        add_user(s, "ivan", "a-long-password", "investigator", ["530102"])
        add_user(s, "dora", "a-long-password", "duty_officer", ["5301"])
    # kill -9 the recorder mid-segment: its FFmpeg dies with it, the next start repairs the index.
    rec = subprocess.Popen([VIGIL, "record", "run", "--segment", "2", "--db", v.settings.db_url, "--home",
                            str(v.settings.home)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: len(segments(v, cam)) >= 2, 30)
    children = [int(c) for t in Path(f"/proc/{rec.pid}/task").iterdir() for c in (t / "children").read_text().split()]
    assert children
    os.kill(rec.pid, signal.SIGKILL)
    rec.wait()
    assert wait_for(lambda: not any(Path(f"/proc/{c}").exists() and "Z" not in _state(c) for c in children), 5)
    out = _run(v, "record", "run", "--segment", "2", "--for", "4")
    assert "segment(s) closed" in out
    segs = check_index(v, cam)
    assert len(gaps(segs)) == 1  # only the restart; the killed session's last file was recovered
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
