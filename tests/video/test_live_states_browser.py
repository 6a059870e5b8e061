"""Live view and playback in real headless Chromium: what live view says instead of waiting forever (camera
down, no video, starting), its language switch, and the playback timeline of recorded spans and events."""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from video_helpers import add_camera, free_port, make_segments, serve_app, wait_for

from vigil.access.users import add_user, issue_token, principal_of
from vigil.analytics.models import Event
from vigil.api.app import create_app
from vigil.core.models import User
from vigil.health.models import CameraStatus
from vigil.video import retrieval
from vigil.video.live import LiveConfig, LiveManager

pytestmark = pytest.mark.browser
T0 = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
OK, DOWN, DEAD, SILENT = (f"530102000013200000{n:02d}" for n in (11, 12, 13, 14))


@pytest.fixture
def world(sqlite_vigil, rtsp_server, tmp_path):
    v = sqlite_vigil
    silent = socket.socket()  # accepts TCP (the kernel's backlog) and never answers RTSP: a camera that hangs
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    with v.db.session() as s:
        add_camera(s, rtsp_server.url, cam_id=OK)
        add_camera(s, rtsp_server.url, cam_id=DOWN)
        add_camera(s, f"rtsp://127.0.0.1:{free_port()}/cam", cam_id=DEAD)  # nothing listens
        add_camera(s, f"rtsp://127.0.0.1:{silent.getsockname()[1]}/cam", cam_id=SILENT)
        s.add(CameraStatus(camera_id=DOWN, state="down", reason="timeout", since=T0))
        s.add(CameraStatus(camera_id=OK, state="online", reason="", since=T0))
        user = add_user(s, "watcher", "a-long-password", "duty_officer", ["530102"])
        token = issue_token(s, user)
        for sec, kind in ((3, "intrusion"), (22, "loitering")):
            s.add(Event(uid=str(uuid.uuid4()), camera_id=OK, region_code="530102", type=kind, label="person",
                        start=T0 + timedelta(seconds=sec), box=[0.1, 0.1, 0.2, 0.2], score=0.9))
    # two recorded spans with a gap: 0-6 s and 20-24 s of the request's 30 s
    make_segments(v, OK, rtsp_server.media, T0, seconds=6, seg_s=2)
    make_segments(v, OK, rtsp_server.media, T0 + timedelta(seconds=20), seconds=4, seg_s=2)
    with v.db.session() as s:
        req = retrieval.request_retrieval(s, principal_of(s.scalar(select(User).where(User.name == "watcher"))),
                                          OK, T0, T0 + timedelta(seconds=30), kind="view", reason="case 12").id
    app = create_app(v)
    app.state.video_live = LiveManager(LiveConfig(idle_s=5, start_timeout_s=2))
    with serve_app(app) as base:
        yield v, base, token, req, app.state.video_live
    app.state.video_live.close()
    silent.close()


@pytest.fixture
def browser():
    from video_cdp import CHROMIUM, Chromium

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    b = Chromium()
    yield b
    b.close()


def _state(browser, obj: str = "vigilLive"):  # type: ignore[no-untyped-def]
    return browser.eval(f"window.{obj} && window.{obj}.state")


def test_live_view_says_down_and_no_video_in_both_languages(world, browser) -> None:
    v, base, token, _req, live = world
    browser.goto(f"{base}/ui/live.html?camera={DOWN}#token={token}")
    assert wait_for(lambda: _state(browser) == "down", 20), browser.eval("JSON.stringify(window.vigilLive)")
    assert browser.eval("document.getElementById('status').textContent") == "camera down"
    assert "Camera down" in browser.eval("document.getElementById('notice').textContent")
    assert browser.eval("document.getElementById('notice').hidden") is False
    assert DOWN not in live.active()  # a camera the probes call down is not even asked for a stream
    # The switch: Chinese is kept on the user, and the page says it again in Chinese.
    browser.eval("const s = document.getElementById('lang-switch'); s.value = 'zh-CN';"
                 "s.dispatchEvent(new Event('change'))")
    assert wait_for(lambda: browser.eval("document.getElementById('status').textContent") == "摄像机离线", 20)
    assert browser.eval("document.title") == "Vigil 实时画面"
    assert browser.eval("document.getElementById('lang-switch').value") == "zh-CN"
    with v.db.session() as s:
        assert s.scalar(select(User.locale).where(User.name == "watcher")) == "zh-CN"
    # A camera whose stream cannot be opened: "no video", not a spinner for ever.
    browser.goto(f"{base}/ui/live.html?camera={DEAD}#token={token}")
    assert wait_for(lambda: _state(browser) == "no_video", 30), browser.eval("JSON.stringify(window.vigilLive)")
    assert browser.eval("document.getElementById('status').textContent") == "无视频"
    browser.eval("const s = document.getElementById('lang-switch'); s.value = 'en';"
                 "s.dispatchEvent(new Event('change'))")
    assert wait_for(lambda: browser.eval("document.getElementById('status').textContent") == "no video", 30)


def test_live_playlist_says_starting_or_no_video(world) -> None:
    _v, base, token, _req, live = world
    auth = {"Authorization": f"Bearer {token}"}
    r = httpx.get(f"{base}/api/v1/video/live/{SILENT}/index.m3u8", headers=auth, timeout=30)
    assert r.status_code == 503 and r.json()["live_state"] == "starting" and r.headers["retry-after"] == "1"
    assert SILENT in live.active()  # still trying: the next request may get the playlist
    r = httpx.get(f"{base}/api/v1/video/live/{DEAD}/index.m3u8", headers=auth, timeout=30)
    assert r.status_code == 503 and r.json()["live_state"] == "no_video"
    assert "Traceback" not in r.text and "internal" not in r.text
    # a camera that streams: "starting" while FFmpeg writes its first segment, then the playlist
    answers = []
    assert wait_for(lambda: answers.append(httpx.get(f"{base}/api/v1/video/live/{OK}/index.m3u8", headers=auth,
                                                     timeout=30)) or answers[-1].status_code == 200, 40)
    assert all(a.json()["live_state"] == "starting" for a in answers[:-1]) and "#EXTM3U" in answers[-1].text


def test_playback_timeline_shows_spans_and_events_and_scrubs(world, browser) -> None:
    _v, base, token, req, _live = world
    browser.goto(f"{base}/ui/playback.html?request={req}#token={token}")
    assert wait_for(lambda: _state(browser, "vigilPlayback") == "playing", 30), \
        browser.eval("JSON.stringify(window.vigilPlayback)")
    assert wait_for(lambda: len(browser.eval("window.vigilPlayback.spans") or []) == 2, 10), \
        browser.eval("JSON.stringify(window.vigilPlayback)")
    spans = browser.eval("window.vigilPlayback.spans")
    assert [datetime.fromisoformat(a.replace("Z", "+00:00")) - T0 for a, _b in spans] == \
        [timedelta(0), timedelta(seconds=20)]
    assert browser.eval("document.querySelectorAll('#tl-bar .tl-event').length") == 2
    assert browser.eval("document.querySelectorAll('#tl-bar .tl-span').length") == 2
    browser.eval("document.getElementById('video').pause()")

    def click_at(fraction: float) -> None:
        box = browser.eval("(() => { const b = document.getElementById('tl-bar'); b.scrollIntoView();"
                           " const r = b.getBoundingClientRect();"
                           " return [r.left, r.top, r.width, r.height]; })()")
        x, y = box[0] + box[2] * fraction, box[1] + box[3] / 2
        for kind in ("mousePressed", "mouseReleased"):
            browser.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    click_at(22 / 30)  # 2 s into the second span: 6 s of the first span come before it in the joined clip
    cur = lambda: browser.eval("document.getElementById('video').currentTime")  # noqa: E731
    assert wait_for(lambda: abs(cur() - 8.0) < 0.6, 10), cur()
    wall = datetime.fromisoformat(browser.eval("window.vigilPlayback.wall").replace("Z", "+00:00"))
    assert abs((wall - T0).total_seconds() - 22) < 0.6
    click_at(12 / 30)  # in the gap: the next recorded span's start
    assert wait_for(lambda: abs(cur() - 6.0) < 0.3, 10), (cur(), browser.eval("JSON.stringify([window.vigilPlayback.wall, document.getElementById('video').duration])"))
