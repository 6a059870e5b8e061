"""The recorder against a real RTSP server: reconnects after an outage, index matches the disk."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from video_helpers import add_camera, wait_for

from vigil.access.audit import verify_chain
from vigil.video.models import RecordingSegment
from vigil.video.recorder import Recorder, RecorderConfig
from vigil.video.segments import probe_duration, repair_index

CFG = RecorderConfig(segment_s=2, stall_s=6, backoff_min_s=0.3, backoff_max_s=2, retention_every_s=1,
                     min_free_bytes=0, io_timeout_s=3)


class Running:
    """A Recorder on its own event loop thread."""

    def __init__(self, v, cams, cfg=CFG) -> None:
        self.rec = Recorder(v, cfg, camera_ids=cams)
        self.loop = asyncio.new_event_loop()
        self.stop_ev: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()
        wait_for(lambda: self.stop_ev is not None, 5)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.stop_ev = asyncio.Event()
        self.loop.run_until_complete(self.rec.run(self.stop_ev))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stop_ev.set)
        self.thread.join(20)
        assert not self.thread.is_alive()


def segments(v, cam):
    with v.db.session() as s:
        return list(s.scalars(select(RecordingSegment).where(RecordingSegment.camera_id == cam)
                              .order_by(RecordingSegment.start)))


def check_index(v, cam) -> list[RecordingSegment]:
    """Every file is indexed, every row has its file, sizes and durations match, no overlaps."""
    rows = segments(v, cam)
    files = {str(p) for p in (v.settings.recordings_dir / cam).glob("*/*.mp4")}
    assert {r.path for r in rows} == files
    for a, b in zip(rows, rows[1:], strict=False):
        assert b.start >= a.end - _tol(), (a.path, a.end, b.path, b.start)
    for r in rows:
        assert Path(r.path).stat().st_size == r.bytes
        d = probe_duration(Path(r.path))
        assert d is not None and abs(d - r.duration_s) < 0.35, (r.path, d, r.duration_s)
    return rows


def _tol():
    from datetime import timedelta

    return timedelta(milliseconds=300)


def gaps(rows, min_s=0.5):
    return [(b.start - a.end).total_seconds() for a, b in zip(rows, rows[1:], strict=False)
            if (b.start - a.end).total_seconds() > min_s]


def test_reconnects_after_server_killed_and_index_stays_correct(sqlite_vigil, rtsp_server):
    v = sqlite_vigil
    with v.db.session() as s:
        cam = add_camera(s, rtsp_server.url).id
    run = Running(v, [cam], replace(CFG, segment_s=1))  # 1 s segments (one GOP each): the same counts in half the time
    try:
        assert wait_for(lambda: len(segments(v, cam)) >= 3, 20)
        rtsp_server.kill()
        t_down = time.monotonic()
        time.sleep(2)  # an outage well above the 0.5 s that counts as a gap
        rtsp_server.start()
        outage = time.monotonic() - t_down
        n_before = len(segments(v, cam))
        assert wait_for(lambda: len(segments(v, cam)) >= n_before + 3, 25)
        assert run.rec.cameras[cam].sessions >= 2
    finally:
        run.stop()
    rows = check_index(v, cam)
    g = gaps(rows)
    assert len(g) == 1, g  # exactly one gap: the outage
    assert outage - 1.0 < g[0] < outage + 6.0
    with v.db.session() as s:
        assert verify_chain(s).ok


def test_kill_9_loses_at_most_the_open_segment_and_repair_fixes_index(sqlite_vigil, rtsp_server):
    v = sqlite_vigil
    with v.db.session() as s:
        cam = add_camera(s, rtsp_server.url).id
    run = Running(v, [cam])
    assert wait_for(lambda: len(segments(v, cam)) >= 2, 20)
    # Simulate kill -9 of the recorder: its FFmpeg dies (SIGKILL) mid-segment, nothing is finalised.
    proc = run.rec.cameras[cam].proc
    run.loop.call_soon_threadsafe(run.stop_ev.set)
    proc.kill()
    run.thread.join(20)
    # Forget what the recorder indexed last and remove one row, as if the crash came before indexing.
    with v.db.session() as s:
        rows = list(s.scalars(select(RecordingSegment).where(RecordingSegment.camera_id == cam)
                              .order_by(RecordingSegment.start)))
        s.delete(rows[-1])
    files_before = {str(p) for p in (v.settings.recordings_dir / cam).glob("*/*.mp4")}
    rep = repair_index(v, [cam])
    assert rep.added >= 1
    rows = check_index(v, cam)
    assert {r.path for r in rows} | set() >= files_before - {p for p in files_before if not Path(p).exists()}
    assert gaps(rows) == []
    with v.db.session() as s:
        assert verify_chain(s).ok


@pytest.mark.parametrize("bad", ["rtsp://127.0.0.1:9/none"])
def test_unreachable_camera_backs_off_without_crashing(sqlite_vigil, bad):
    v = sqlite_vigil
    with v.db.session() as s:
        cam = add_camera(s, bad).id
    run = Running(v, [cam])
    assert wait_for(lambda: run.rec.cameras[cam].restarts >= 2 if cam in run.rec.cameras else False, 10)
    run.stop()
    assert segments(v, cam) == []


def test_watchdog_restarts_a_stalled_ffmpeg(sqlite_vigil, tmp_path):
    """An FFmpeg that keeps its connection but stops writing is killed by the watchdog and restarted."""
    v = sqlite_vigil
    fake = tmp_path / "stuck-ffmpeg"
    fake.write_text("#!/bin/sh\nout=$(printf \"$(eval echo \\${$#})\" 0)\nprintf 'x' > \"$out\"\nexec sleep 60\n")
    fake.chmod(0o755)
    with v.db.session() as s:
        cam = add_camera(s, "rtsp://127.0.0.1:9/stuck").id
    cfg = RecorderConfig(segment_s=2, stall_s=1.5, backoff_min_s=0.2, backoff_max_s=0.5, retention_every_s=1,
                         min_free_bytes=0, ffmpeg=str(fake))
    run = Running(v, [cam], cfg)
    try:
        assert wait_for(lambda: cam in run.rec.cameras and run.rec.cameras[cam].restarts >= 2, 15)
        assert "stalled" in run.rec.cameras[cam].last_error
    finally:
        run.stop()
