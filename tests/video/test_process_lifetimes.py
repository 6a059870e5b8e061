"""Processes that end cleanly: kill -9 of ``vigil record run`` and of ``vigil serve``, SIGTERM of ``vigil serve``.

``vigil serve`` runs with ``--record all`` and a live view open, so it has two FFmpeg children.

Real processes against a real RTSP server (gst-rtsp-server with digest auth). Orphans are found by
scanning /proc for command lines that mention the test's instance folder: every FFmpeg Vigil starts
writes under it (recordings, live HLS), so a leftover one shows up there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from test_recorder import check_index, gaps, segments
from video_helpers import RtspServer, add_camera, free_port, pids_mentioning, wait_for

from vigil.access.bootstrap import init_instance
from vigil.core.context import Vigil

USER, PASSWORD = "rec", "Rec-Pw-5521"
SEGMENT_S = 2.0


@pytest.fixture
def auth_server(vtest_h264):
    srv = RtspServer(vtest_h264, user=USER, password=PASSWORD).start()
    yield srv
    srv.kill()


@pytest.fixture
def instance(tmp_path, auth_server):
    """A fresh instance with one camera (credentials sealed) on the RTSP server; yields (home, admin pw, camera)."""
    home = tmp_path / "home"
    v = Vigil.open(None, str(home))
    res = init_instance(v, root_code="5301", root_name="昆明市")
    with v.db.session() as s:
        cam = add_camera(s, auth_server.url)
        cam.username, cam.password_enc = USER, v.box.seal(PASSWORD)
        cam_id = cam.id
    v.close()
    return home, res.password, cam_id


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "VIGIL_HOME": str(home)}
    env.pop("VIGIL_DB", None)
    return env


def _vigil(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vigil", *args], env=_env(home), cwd=home.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _ffmpegs(home: Path) -> list[int]:
    """Processes (FFmpeg) whose command line writes under the instance folder."""
    return pids_mentioning(str(home) + "/")


def _segments(home: Path, cam: str) -> list:
    v = Vigil.open(None, str(home), migrate=False)
    try:
        return segments(v, cam)
    finally:
        v.close()


def _open_file(home: Path, cam: str) -> Path | None:
    """The segment being written now: on disk, growing, not yet in the index."""
    indexed = {r.path for r in _segments(home, cam)}
    files = sorted((home / "recordings" / cam).glob("*/*.mp4"))  # the default recordings folder
    return next((f for f in reversed(files) if str(f) not in indexed and f.stat().st_size > 0), None)


def test_kill_9_of_vigil_record_run_then_restart(instance):
    home, _, cam = instance
    rec = _vigil(home, "record", "run", "--camera", cam, "--segment", f"{SEGMENT_S:g}")
    try:
        assert wait_for(lambda: len(_segments(home, cam)) >= 2, 40), rec.stderr and rec.poll()
        assert wait_for(lambda: _open_file(home, cam), 10)  # in the middle of a segment
        ffmpeg = _ffmpegs(home)
        assert len(ffmpeg) == 1 and PASSWORD not in Path(f"/proc/{ffmpeg[0]}/cmdline").read_text()
        before = {r.path for r in _segments(home, cam)}
        os.kill(rec.pid, signal.SIGKILL)  # the recorder process itself, no graceful stop
        t_kill = datetime.now(UTC)
        rec.wait(10)
    finally:
        if rec.poll() is None:
            rec.kill()
    assert wait_for(lambda: _ffmpegs(home) == [], 10), _ffmpegs(home)  # FFmpeg died with its parent
    # Restart for a few segments, stopped gracefully this time.
    again = _vigil(home, "record", "run", "--camera", cam, "--segment", f"{SEGMENT_S:g}", "--for", "6")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert "Traceback" not in err and PASSWORD not in err
    assert _ffmpegs(home) == []
    v = Vigil.open(None, str(home), migrate=False)
    try:
        rows = check_index(v, cam)  # every file indexed, every row has its file, durations match
    finally:
        v.close()
    assert before <= {r.path for r in rows}  # nothing indexed before the kill was lost
    first_run = [r for r in rows if r.start < t_kill]
    lost = (t_kill - max(r.end for r in first_run)).total_seconds()
    assert lost < SEGMENT_S + 1.5, lost  # at most the open segment (its readable part is kept)
    assert len(gaps([r for r in rows if r.end <= t_kill + timedelta(seconds=1)])) == 0
    assert any(r.start > t_kill for r in rows)  # the restart recorded again


def _serve(home: Path, port: int) -> subprocess.Popen:
    proc = _vigil(home, "serve", "--port", str(port), "--no-scheduler", "--no-analytics", "--record", "all")
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            httpx.get(base + "/api/v1/auth/me", timeout=1)
            return True
        except httpx.TransportError:
            return proc.poll() is not None

    assert wait_for(up, 30) and proc.poll() is None, proc.stderr and proc.stderr.read()
    return proc


def _watch_live(port: int, password: str, cam: str) -> None:
    base = f"http://127.0.0.1:{port}"
    tok = httpx.post(base + "/api/v1/auth/login", json={"username": "admin", "password": password}).json()
    r = httpx.get(f"{base}/api/v1/video/live/{cam}/index.m3u8", headers={"Authorization": f"Bearer {tok['token']}"},
                  timeout=30)
    assert r.status_code == 200, r.text


def _live_dirs(home: Path) -> list[Path]:
    return sorted((home / "run").glob("vigil-live-*"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_vigil_serve_leaves_no_ffmpeg_and_no_live_folder(instance, sig):
    home, password, cam = instance
    port = free_port()
    srv = _serve(home, port)
    try:
        _watch_live(port, password, cam)
        assert wait_for(lambda: len(_ffmpegs(home)) == 2, 20)  # the live packager and the recorder
        assert all(PASSWORD not in Path(f"/proc/{p}/cmdline").read_text() for p in _ffmpegs(home))
        assert len(_live_dirs(home)) == 1
        srv.send_signal(sig)
        _, err = srv.communicate(timeout=30)
    finally:
        if srv.poll() is None:
            srv.kill()
    assert wait_for(lambda: _ffmpegs(home) == [], 10), _ffmpegs(home)  # on SIGKILL too (PR_SET_PDEATHSIG)
    if sig == signal.SIGTERM:
        assert srv.returncode in (0, -signal.SIGTERM) and "Traceback" not in err, err
        assert _live_dirs(home) == []
        return
    # After a kill -9 the folder is left; the next server removes it when it starts.
    assert len(_live_dirs(home)) == 1
    srv = _serve(home, port)
    try:
        assert _live_dirs(home) == []
        _watch_live(port, password, cam)  # and live view works again
        assert wait_for(lambda: len(_ffmpegs(home)) == 2, 20)
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.communicate(timeout=30)
    assert wait_for(lambda: _ffmpegs(home) == [], 10)
    assert _live_dirs(home) == []
