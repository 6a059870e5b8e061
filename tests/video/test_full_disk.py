"""A full recordings disk (a real, small tmpfs) triggers retention; the recorder does not crash."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from test_recorder import Running, check_index, segments
from video_helpers import add_camera, make_segments, wait_for

from vigil.access.audit import verify_chain
from vigil.core.models import AuditEntry, utcnow
from vigil.video.recorder import RecorderConfig

MiB = 1 << 20


@pytest.fixture
def small_disk(sqlite_vigil):
    """Mount an 8 MiB tmpfs as the instance's recordings folder (needs root)."""
    root: Path = sqlite_vigil.settings.recordings_dir
    root.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(root)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
    yield root
    subprocess.run(["umount", "-l", str(root)], check=False)


def _free(root: Path) -> int:
    import shutil

    return shutil.disk_usage(root).free


def test_full_disk_triggers_retention_without_crash(sqlite_vigil, small_disk, rtsp_server, vtest_h264):
    v = sqlite_vigil
    with v.db.session() as s:
        cam = add_camera(s, rtsp_server.url).id
        old_cam = add_camera(s, "", cam_id="53010200001320000002").id
    old = make_segments(v, old_cam, vtest_h264, utcnow() - timedelta(days=2), seconds=30, seg_s=2)
    ballast = small_disk / "ballast.bin"
    ballast.write_bytes(b"\0" * max(0, _free(small_disk) - MiB))  # leave 1 MiB: the disk is nearly full
    cfg = RecorderConfig(segment_s=1, stall_s=6, backoff_min_s=0.3, backoff_max_s=1, retention_every_s=0.5,
                         min_free_bytes=MiB, io_timeout_s=3)
    run = Running(v, [cam], cfg)
    try:
        assert wait_for(lambda: len(segments(v, cam)) >= 4, 25)
        # Now fill the disk to the last byte: FFmpeg's writes fail, retention frees space, recording resumes.
        with ballast.open("ab") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        n = len(segments(v, cam))
        assert wait_for(lambda: len(segments(v, cam)) >= n + 2, 25)
        assert run.thread.is_alive()
    finally:
        run.stop()
    with v.db.session() as s:
        deletions = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "video.retention.delete")))
        assert deletions and all(d.detail["reason"] == "disk" for d in deletions)
        assert verify_chain(s).ok
    deleted = sum(d.detail["segments"] for d in deletions)
    assert deleted >= len(old) // 2
    survivors = segments(v, old_cam)
    assert all(not Path(r.path).exists() for r in old if r.path not in {x.path for x in survivors})
    # Oldest first: any surviving old segment is newer than every deleted one.
    check_index(v, cam)
    check_index(v, old_cam)
