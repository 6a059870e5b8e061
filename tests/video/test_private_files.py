"""What `vigil record run` writes is private: recordings folders 0700, segment files 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from video_helpers import add_camera

VIGIL = str(Path(sys.executable).with_name("vigil"))


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_recordings_are_private(sqlite_vigil, rtsp_server):
    v = sqlite_vigil
    with v.db.session() as s:
        add_camera(s, rtsp_server.url)
    old = os.umask(0o022)  # as a user's shell would have it: the command itself must tighten it
    try:
        res = subprocess.run([VIGIL, "record", "run", "--segment", "2", "--for", "5", "--db", v.settings.db_url,
                              "--home", str(v.settings.home)], capture_output=True, text=True, timeout=90)
    finally:
        os.umask(old)
    assert res.returncode == 0, res.stdout + res.stderr
    files = [p for p in v.settings.recordings_dir.rglob("*") if p.is_file()]
    dirs = [v.settings.recordings_dir, *(p for p in v.settings.recordings_dir.rglob("*") if p.is_dir())]
    assert any(p.suffix in (".ts", ".mp4", ".mkv") for p in files), files
    assert {_mode(d) for d in dirs} == {0o700}
    assert {_mode(f) for f in files} == {0o600}, {f.name: oct(_mode(f)) for f in files}
    assert _mode(v.settings.home) == 0o700
