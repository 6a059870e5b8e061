"""Live view in real headless Chromium: the console page plays the camera's HLS and currentTime advances."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from video_helpers import add_camera, free_port, make_segments, wait_for

from vigil.access.audit import verify_chain
from vigil.access.users import add_user, issue_token, principal_of
from vigil.api.app import create_app
from vigil.core.models import AuditEntry, User
from vigil.video import retrieval
from vigil.video.live import LiveConfig, LiveManager

pytestmark = pytest.mark.browser
T0 = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)


@pytest.fixture
def served(sqlite_vigil, rtsp_server):
    v = sqlite_vigil
    with v.db.session() as s:
        cam = add_camera(s, rtsp_server.url).id
        add_camera(s, rtsp_server.url, cam_id="53010300001320000009", region="530103")
        tokens = {}
        for name, role, region in (("watcher", "duty_officer", "530102"), ("elsewhere", "duty_officer", "530103"),
                                   ("fixer", "maintenance", "530102")):
            tokens[name] = issue_token(s, add_user(s, name, "a-long-password", role, [region]))
    make_segments(v, cam, rtsp_server.media, T0, seconds=6, seg_s=2)
    with v.db.session() as s:
        tokens["request"] = retrieval.request_retrieval(s, principal_of(s.scalar(select(User).where(
            User.name == "watcher"))), cam, T0, T0 + timedelta(seconds=6), kind="view", reason="patrol review").id
    app = create_app(v)
    app.state.video_live = LiveManager(LiveConfig(idle_s=3))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    assert wait_for(lambda: server.started, 10)
    yield v, f"http://127.0.0.1:{port}", cam, tokens, app.state.video_live
    server.should_exit = True
    th.join(10)
    app.state.video_live.close()


def test_live_view_plays_in_headless_chromium(served):
    from video_cdp import CHROMIUM, Chromium

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    v, base, cam, tokens, live = served
    browser = Chromium()
    try:
        browser.goto(f"{base}/ui/live.html?camera={cam}#token={tokens['watcher']}")
        t = lambda: browser.eval("document.getElementById('video').currentTime") or 0  # noqa: E731
        assert wait_for(lambda: t() > 1.0, 40, 0.5), browser.eval("JSON.stringify(window.vigilLive)")
        t1 = t()
        time.sleep(2.5)
        t2 = t()
        assert t2 > t1 + 1.0, (t1, t2)
        assert browser.eval("document.getElementById('video').paused") is False
        assert browser.eval("window.vigilLive.player") == "hls.js"
        print(f"live latency behind the edge: {browser.eval('window.vigilLive.hls.latency'):.1f} s")
        assert cam in live.active()  # checked while the page still plays: idle_s is 3 s
        # Recorded playback of an approved request, joined across segments, in the same browser.
        browser.goto(f"{base}/ui/playback.html?request={tokens['request']}#token={tokens['watcher']}")
        assert wait_for(lambda: t() > 1.5, 20, 0.5), browser.eval("JSON.stringify(window.vigilPlayback)")
    finally:
        browser.close()
    assert wait_for(lambda: cam not in live.active(), 15)  # stopped when idle
    with v.db.session() as s:
        views = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "video.live")))
        assert [e.actor for e in views] == ["watcher"]  # one entry per viewing, not per segment
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "video.view")) >= 1
        assert verify_chain(s).ok


def test_live_view_is_scoped_and_needs_permission(served):
    v, base, cam, tokens, live = served
    url = f"{base}/api/v1/video/live/{cam}/index.m3u8"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {tokens['elsewhere']}"}).status_code == 404
    assert httpx.get(url, headers={"Authorization": f"Bearer {tokens['fixer']}"}).status_code == 403
    assert live.active() == []
