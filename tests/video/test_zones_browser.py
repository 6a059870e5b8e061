"""Zones and masks drawn on a camera's snapshot in real headless Chromium: a privacy mask, an intrusion zone and
a crossing line are clicked onto the picture, the mask is previewed, saved, and the server's own masked
snapshot is black where the mask lies."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from video_helpers import add_camera, console_as, free_port, serve_app, wait_for

from vigil.access.guard import Scope
from vigil.access.users import add_user, issue_token
from vigil.analytics.models import AnalyticsSetting
from vigil.analytics.settings import set_analytics
from vigil.api.app import create_app
from vigil.video.models import PrivacyMask

pytestmark = pytest.mark.browser
CAM, OTHER, DEAD = "53010200001320000201", "53010300001320000202", "53010200001320000203"
MASK = [(0.1, 0.1), (0.4, 0.1), (0.4, 0.4), (0.1, 0.4)]
# a lane zone with a queue rule: the editor does not draw lanes, and saving must keep it as it was
LANE = {"name": "lane-1", "polygon": [[0.6, 0.1], [0.9, 0.1], [0.9, 0.3], [0.6, 0.3]],
        "stop_line": [[0.6, 0.3], [0.9, 0.3]], "length_m": 30.0, "rules": [{"type": "queue", "threshold_m": 10.0}]}


@pytest.fixture
def served(sqlite_vigil, rtsp_server):
    v = sqlite_vigil
    with v.db.session() as s:
        add_camera(s, rtsp_server.url, cam_id=CAM)
        add_camera(s, rtsp_server.url, cam_id=OTHER, region="530103")
        add_camera(s, f"rtsp://127.0.0.1:{free_port()}/cam", cam_id=DEAD)
        set_analytics(s, CAM, enabled=False, zones={"zones": [LANE]}, actor="seed", scope=Scope.everything())
        tokens = {role: issue_token(s, add_user(s, f"u-{role}", "a-long-password", role, ["530102"]))
                  for role in ("admin", "duty_officer")}
    with serve_app(create_app(v)) as base:
        yield v, base, tokens


def _luma(browser, img: str, x: float, y: float) -> float:
    """Mean brightness of a 5x5 patch at (x, y) of the image element ``img`` (normalised coordinates)."""
    return browser.eval(f"""(() => {{ const i = document.getElementById('{img}');
        const c = document.createElement('canvas'); c.width = i.naturalWidth; c.height = i.naturalHeight;
        const g = c.getContext('2d'); g.drawImage(i, 0, 0);
        const d = g.getImageData(Math.round({x} * c.width) - 2, Math.round({y} * c.height) - 2, 5, 5).data;
        let s = 0; for (let k = 0; k < d.length; k += 4) s += (d[k] + d[k + 1] + d[k + 2]) / 3;
        return s / (d.length / 4); }})()""")


def test_draw_a_mask_zone_and_line_and_see_the_mask_applied(served) -> None:
    from video_cdp import CHROMIUM, Chromium

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    v, base, tokens = served
    browser = Chromium()
    try:  # a viewport that holds the whole picture: a click outside the viewport goes nowhere
        browser.send("Emulation.setDeviceMetricsOverride", width=1440, height=1600, deviceScaleFactor=1, mobile=False)
        console_as(browser, base, tokens["admin"], f"#/zones/{CAM}")
        assert wait_for(lambda: browser.eval("document.getElementById('zones-img')?.naturalWidth") or 0, 40), \
            browser.eval("document.body.innerText")

        def click(x: float, y: float, count: int = 1) -> None:
            r = browser.eval("(() => { const s = document.getElementById('zones-svg'); s.scrollIntoView();"
                             " const r = s.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()")
            px, py = r[0] + x * r[2], r[1] + y * r[3]
            for kind in ("mousePressed", "mouseReleased"):
                browser.send("Input.dispatchMouseEvent", type=kind, x=px, y=py, button="left", clickCount=count)

        def tool(name: str) -> None:
            browser.eval(f"{{ const s = document.getElementById('zones-tool'); s.value = '{name}';"
                         "s.dispatchEvent(new Event('change')); }")

        tool("mask")
        for x, y in MASK:
            click(x, y)
        browser.eval("document.getElementById('zones-finish').click()")
        tool("intrusion")
        browser.eval("document.getElementById('zones-name').value = 'gate'")
        for x, y in ((0.6, 0.6), (0.9, 0.6), (0.9, 0.9)):
            click(x, y)
        browser.eval("document.getElementById('zones-finish').click()")
        tool("line")
        click(0.5, 0.1)
        click(0.5, 0.9)  # a line ends at its second point
        kinds = browser.eval("[...document.querySelectorAll('#zones-list li')].map(l => l.dataset.kind).join()")
        assert kinds == "mask,intrusion,line", browser.eval("JSON.stringify(window.vigilZones)")
        # The preview: the drafted mask drawn opaque black, as it will be applied.
        browser.eval("{ const p = document.getElementById('zones-preview'); p.checked = true;"
                     "p.dispatchEvent(new Event('change')); }")
        assert browser.eval("document.querySelector('#zones-svg [data-kind=mask]').getAttribute('fill')") == "#000"
        browser.eval("document.getElementById('zones-save').click()")
        assert wait_for(lambda: browser.eval("document.getElementById('zones-applied').naturalWidth") or 0, 40), \
            browser.eval("document.body.innerText")
        browser.send("Emulation.setDeviceMetricsOverride", width=1280, height=1600, deviceScaleFactor=1, mobile=False)
        assert browser.eval("document.documentElement.scrollWidth <= document.documentElement.clientWidth")  # 1280 px
        # The server's masked snapshot: black inside the mask, the plaza's picture outside it.
        assert _luma(browser, "zones-applied", 0.25, 0.25) < 12
        assert _luma(browser, "zones-img", 0.25, 0.25) > 30  # the same spot unmasked is not black
        assert _luma(browser, "zones-applied", 0.75, 0.5) > 30
    finally:
        browser.close()
    with v.db.session() as s:
        (mask,) = s.scalars(select(PrivacyMask).where(PrivacyMask.camera_id == CAM))
        assert all(abs(a - b) < 0.01 for p, q in zip(mask.polygon, MASK, strict=True) for a, b in zip(p, q, strict=True))
        zones = s.get(AnalyticsSetting, CAM).zones
    assert [(z["name"], z["rules"][0]["type"]) for z in zones["zones"]] == [("lane-1", "queue"), ("gate", "intrusion")]
    assert zones["zones"][0] == LANE
    assert [round(y, 2) for _x, y in zones["lines"][0]["points"]] == [0.1, 0.9]


def test_snapshot_is_masked_scoped_and_says_no_picture(served) -> None:
    _v, base, tokens = served
    duty = {"Authorization": f"Bearer {tokens['duty_officer']}"}
    url = f"{base}/api/v1/video/snapshots"
    r = httpx.get(f"{url}/{CAM}", headers=duty, timeout=60)
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
    assert httpx.get(f"{url}/{CAM}?masked=false", headers=duty, timeout=60).status_code == 403  # not a mask editor
    assert httpx.get(f"{url}/{OTHER}", headers=duty, timeout=60).status_code == 404
    dead = httpx.get(f"{url}/{DEAD}", headers=duty, timeout=60)
    assert dead.status_code == 503 and "no picture" in dead.json()["detail"] and "Traceback" not in dead.text
