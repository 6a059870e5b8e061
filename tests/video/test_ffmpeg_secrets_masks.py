"""FFmpeg never sees a camera password in its argv, and privacy masks are burnt into live view and playback.

A real gst-rtsp-server that demands digest authentication serves the camera. Every process on the
machine is scanned through /proc for the password while live view and the recorder run; the
recorder's log, its errors and the live-view 503 are checked too. A masked camera's live HLS
segment and playback clip are decoded with PyAV: black inside the mask, picture outside. An
unmasked camera is stream-copied: its decoded frames are bit-identical to the source's.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient
from test_recorder import Running, segments
from video_helpers import RtspServer, add_camera, cmdline, make_segments, pids_mentioning, wait_for

from vigil.access.users import add_user, issue_token, principal_of
from vigil.api.app import create_app
from vigil.api.routers.video import close_live
from vigil.video import retrieval
from vigil.video.models import PrivacyMask, validate_polygon
from vigil.video.recorder import RecorderConfig

USER, PASSWORD, WRONG = "viewer", "S3cret-Pw-7781", "Wr0ng-Pw-4410"
TOP_LEFT = [[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [0.0, 0.5]]
T0 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
CFG = RecorderConfig(segment_s=2, stall_s=6, backoff_min_s=0.3, backoff_max_s=1, retention_every_s=1,
                     min_free_bytes=0, io_timeout_s=3)


@pytest.fixture
def auth_server(vtest_h264):
    srv = RtspServer(vtest_h264, user=USER, password=PASSWORD).start()
    yield srv
    srv.kill()


def _camera(v, url: str, cam_id: str, password: str = PASSWORD, masks=()) -> str:
    with v.db.session() as s:
        cam = add_camera(s, url, cam_id=cam_id)
        cam.username, cam.password_enc = USER, v.box.seal(password)
        for poly in masks:
            s.add(PrivacyMask(camera_id=cam.id, name="window", polygon=validate_polygon(poly)))
        return cam.id


@pytest.fixture
def live_api(sqlite_vigil):
    v = sqlite_vigil
    app = create_app(v)
    with v.db.session() as s:
        add_camera(s, "", cam_id="53010200001320000099")  # makes the region
        tok = issue_token(s, add_user(s, "duty", "a-long-password", "duty_officer", ["530102"]))
    client = TestClient(app)
    yield v, client, {"Authorization": f"Bearer {tok}"}
    close_live(app)


def _quadrants(frame: np.ndarray) -> tuple[float, float]:
    """(brightest pixel of the top-left quarter, mean of the bottom-right quarter), 4 px off the edge."""
    h, w = frame.shape
    return float(frame[: h // 2 - 4, : w // 2 - 4].max()), float(frame[h // 2 + 4:, w // 2 + 4:].mean())


def _first_frame(path) -> np.ndarray:
    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="gray")


def _frame_hashes(path) -> set[str]:
    with av.open(str(path)) as c:
        return {hashlib.md5(f.to_ndarray(format="gray").tobytes()).hexdigest() for f in c.decode(video=0)}


def _live_segment(client, headers, cam: str, out) -> bytes:
    """Open the camera's live view over the API and fetch its first HLS segment."""
    url = f"/api/v1/video/live/{cam}/index.m3u8"

    def first_segment() -> str | None:
        r = client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        names = [ln for ln in r.text.splitlines() if ln.endswith(".ts")]
        return names[0] if names else None

    name = wait_for(first_segment, 30, 0.3)
    assert name
    r = client.get(f"/api/v1/video/live/{cam}/{name}", headers=headers)
    assert r.status_code == 200
    out.write_bytes(r.content)
    return r.content


def _no_process_shows(secret: str) -> None:
    """No process on the machine has ``secret`` in its command line."""
    assert pids_mentioning(secret) == []


def test_password_never_in_ffmpeg_argv_log_or_error(live_api, auth_server, caplog, tmp_path):
    v, client, headers = live_api
    good = _camera(v, auth_server.url, "53010200001320000001")
    bad = _camera(v, auth_server.url, "53010200001320000002", password=WRONG)
    caplog.set_level(logging.INFO, logger="vigil")
    _live_segment(client, headers, good, tmp_path / "live.ts")  # authenticated, so the password reached FFmpeg
    r = client.get(f"/api/v1/video/live/{bad}/index.m3u8", headers=headers)
    assert r.status_code == 503 and "401" in r.text, r.text  # FFmpeg's own words, credentials cut out
    assert WRONG not in r.text and USER + ":" not in r.text
    live_pids = client.app.state.video_live.pids()
    assert live_pids and all("-c copy" in cmdline(p) and "pipe:0" in cmdline(p) for p in live_pids)
    run = Running(v, [good, bad], CFG)
    try:
        assert wait_for(lambda: len(segments(v, good)) >= 1, 20)
        assert wait_for(lambda: run.rec.cameras[bad].restarts >= 1, 20)
        rec_pid = run.rec.cameras[good].proc.pid
        assert "-c copy" in cmdline(rec_pid)
        for secret in (PASSWORD, WRONG):
            _no_process_shows(secret)
        for p in [*live_pids, rec_pid]:
            assert "@127.0.0.1" not in cmdline(p) and "rtsp://" not in cmdline(p)
        err = run.rec.cameras[bad].last_error
        assert "401" in err and WRONG not in err, err
    finally:
        run.stop()
    assert PASSWORD not in caplog.text and WRONG not in caplog.text
    assert "reconnecting" in caplog.text  # the bad camera's errors were logged, redacted


def test_masked_camera_is_blacked_out_live_and_in_playback_unmasked_one_is_copied(
        live_api, auth_server, vtest_h264, tmp_path):
    v, client, headers = live_api
    masked = _camera(v, auth_server.url, "53010200001320000003", masks=[TOP_LEFT])
    plain = _camera(v, auth_server.url, "53010200001320000004")
    source = _frame_hashes(vtest_h264)
    # Live view: HLS segments decoded with PyAV.
    _live_segment(client, headers, masked, tmp_path / "masked.ts")
    _live_segment(client, headers, plain, tmp_path / "plain.ts")
    inside, outside = _quadrants(_first_frame(tmp_path / "masked.ts"))
    assert inside < 24 and outside > 40, (inside, outside)
    inside, outside = _quadrants(_first_frame(tmp_path / "plain.ts"))
    assert inside > 40 and outside > 40, (inside, outside)
    assert _frame_hashes(tmp_path / "plain.ts") <= source  # bit-identical pictures: copied, not re-encoded
    assert not _frame_hashes(tmp_path / "masked.ts") & source
    procs = {c: cmdline(st.proc.pid) for c, st in client.app.state.video_live._streams.items()}
    assert "libx264" in procs[masked] and "-c copy" in procs[plain] and "libx264" not in procs[plain]
    # Playback of recorded footage: the clip of the masked camera is masked, the other one copied.
    with v.db.session() as s:
        p = principal_of(add_user(s, "ivan", "a-long-password", "investigator", ["530102"]))
    clips, rids = {}, {}
    for cam in (masked, plain):
        make_segments(v, cam, vtest_h264, T0, seconds=4, seg_s=2)
        with v.db.session() as s:
            rids[cam] = retrieval.request_retrieval(s, p, cam, T0, T0 + timedelta(seconds=3), kind="view",
                                                    reason="check the mask").id
        clips[cam] = retrieval.view(v, p, rids[cam])
    inside, outside = _quadrants(_first_frame(clips[masked]))
    assert inside < 24 and outside > 40, (inside, outside)
    assert _frame_hashes(clips[plain]) <= source
    # A mask added later gives a masked playback of the same request, not the cached unmasked file.
    with v.db.session() as s:
        s.add(PrivacyMask(camera_id=plain, name="late", polygon=validate_polygon(TOP_LEFT)))
    inside, _ = _quadrants(_first_frame(retrieval.view(v, p, rids[plain])))
    assert inside < 24
