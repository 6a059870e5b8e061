"""A patrol round on the monitoring-centre page plays the camera being looked at inline (real RTSP, hls.js)."""

from __future__ import annotations

from pathlib import Path

import pytest
from video_helpers import add_camera, console_as, serve_app, wait_for

from vigil.access.guard import Scope
from vigil.access.users import add_user, issue_token
from vigil.api.app import create_app
from vigil.centre import rounds
from vigil.video.live import LiveConfig, LiveManager

pytestmark = pytest.mark.browser
CAMS = ["53010200001320000401", "53010200001320000402"]


def test_round_plays_the_current_camera_inline(sqlite_vigil, rtsp_server) -> None:
    from video_cdp import CHROMIUM, Chromium

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    v = sqlite_vigil
    with v.db.session() as s:
        for cid in CAMS:
            add_camera(s, rtsp_server.url, cam_id=cid)
        token = issue_token(s, add_user(s, "ann", "a-long-password", "duty_officer", ["530102"]))
        rounds.create_round(s, region_code="530102", name="gates", cameras=[{"camera_id": c} for c in CAMS],
                            dwell_s=120, checklist=["picture clear"], scope=Scope.everything(), actor="test")
    app = create_app(v)
    app.state.video_live = LiveManager(LiveConfig(idle_s=5))
    browser = Chromium()
    try:
        with serve_app(app) as base:
            console_as(browser, base, token, "centre.html")
            assert wait_for(lambda: browser.eval("document.body.dataset.ready") == "1", 30)
            browser.eval("document.querySelector('.start-round').click()")
            live = "document.querySelector('.centre-tile.current .centre-live')"
            assert wait_for(lambda: browser.eval(f"{live}?.dataset.state") == "live", 60), \
                browser.eval(f"{live}?.dataset.state")
            assert browser.eval(f"{live}.closest('.centre-tile').dataset.camera") == CAMS[0]
            t = lambda: browser.eval(f"{live}.querySelector('video').currentTime")  # noqa: E731
            t1 = t()
            assert wait_for(lambda: t() > t1 + 1.0, 30), (t1, t())
            assert browser.eval("document.querySelectorAll('.centre-live').length") == 1  # only the current one
    finally:
        browser.close()
        app.state.video_live.close()
