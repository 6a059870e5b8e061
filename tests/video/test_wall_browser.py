"""The video wall in real headless Chromium: drag four cameras from the tree onto a 4-tile wall, see each
tile play (currentTime advances), save the layout on the server, get it back after a reload, and cycle."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from video_helpers import add_camera, console_as, serve_app, wait_for

from vigil.access.users import add_user, issue_token
from vigil.api.app import create_app
from vigil.core.models import AuditEntry
from vigil.video.live import LiveConfig, LiveManager
from vigil.video.models import WallLayout

pytestmark = pytest.mark.browser
CAMS = [f"530102000013200001{n:02d}" for n in range(1, 6)]
OTHER = "53010300001320000199"  # another town's camera


@pytest.fixture
def served(sqlite_vigil, rtsp_server):
    v = sqlite_vigil
    with v.db.session() as s:
        for cid in CAMS:
            add_camera(s, rtsp_server.url, cam_id=cid)
        add_camera(s, rtsp_server.url, cam_id=OTHER, region="530103")
        tokens = {name: issue_token(s, add_user(s, name, "a-long-password", "duty_officer", ["530102"]))
                  for name in ("watcher", "colleague")}
    app = create_app(v)
    app.state.video_live = LiveManager(LiveConfig(idle_s=5))
    with serve_app(app) as base:
        yield v, base, tokens
    app.state.video_live.close()


def _drop(browser, ids: list[str]) -> None:
    """Drag each camera from the tree onto the next tile (the page's own dragstart and drop handlers)."""
    browser.eval(f"""(() => {{ {json.dumps(ids)}.forEach((id, i) => {{
        const dt = new DataTransfer();
        document.querySelector(`#wall-tree li[data-camera="${{id}}"]`)
          .dispatchEvent(new DragEvent('dragstart', {{ dataTransfer: dt, bubbles: true }}));
        document.querySelectorAll('#wall-grid .wall-tile')[i]
          .dispatchEvent(new DragEvent('drop', {{ dataTransfer: dt, bubbles: true, cancelable: true }}));
    }}); }})()""")


def test_four_tile_wall_plays_saves_and_cycles(served) -> None:
    from video_cdp import CHROMIUM, Chromium

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    v, base, tokens = served
    browser = Chromium()
    try:
        console_as(browser, base, tokens["watcher"], "#/wall")
        assert wait_for(lambda: browser.eval("document.querySelectorAll('#wall-tree li[data-camera]').length") == 5,
                        30), browser.eval("document.body.innerText")
        assert browser.eval("document.querySelectorAll('#wall-grid .wall-tile').length") == 4  # 2 x 2 by default
        assert OTHER not in browser.eval("document.getElementById('wall-tree').innerText")
        _drop(browser, CAMS[:4])
        tiles = lambda: browser.eval("JSON.stringify(window.vigilWall.tiles)")  # noqa: E731
        assert wait_for(lambda: [t["camera"] for t in json.loads(tiles())] == CAMS[:4], 10), tiles()
        assert wait_for(lambda: all(t["state"] == "live" for t in json.loads(tiles())), 60), tiles()
        browser.send("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        assert browser.eval("document.documentElement.scrollWidth <= document.documentElement.clientWidth")  # 1280 px
        cur = lambda i: browser.eval(f"window.vigilWall.tiles[{i}].video().currentTime")  # noqa: E731
        t1 = [cur(i) for i in range(4)]
        assert wait_for(lambda: all(cur(i) > t1[i] + 1.0 for i in range(4)), 30), (t1, [cur(i) for i in range(4)])
        # Save on the server, with the fifth camera as a second page and a 5 s cycle.
        browser.eval(f"document.querySelector('#wall-tree li[data-camera=\"{CAMS[4]}\"]')"
                     ".dispatchEvent(new MouseEvent('dblclick', {bubbles: true}))")  # appended: a second page
        assert wait_for(lambda: browser.eval("window.vigilWall.pages") == 2, 10)
        browser.eval("document.getElementById('wall-name').value = 'night desk';"
                     "const c = document.getElementById('wall-cycle'); c.value = '5';"
                     "c.dispatchEvent(new Event('change'))")
        browser.eval("document.getElementById('wall-save').click()")
        def saved() -> list | None:
            with v.db.session() as s:  # a short read per poll: the server writes meanwhile
                return s.scalar(select(WallLayout.cameras).where(WallLayout.name == "night desk"))
        assert wait_for(saved, 10)
        # A reload gets the layout back from the server and plays it again.
        browser.eval("location.reload()")
        time.sleep(0.5)
        assert wait_for(lambda: browser.eval("window.vigilWall && window.vigilWall.tiles.map(t => t.camera).join()")
                        == ",".join(CAMS[:4]), 30)
        assert browser.eval("document.getElementById('wall-layouts').value") == "night desk"
        # Cycling: a 1-tile wall of the same cameras turns its page every 5 s.
        browser.eval("const s = document.getElementById('wall-size'); s.value = '1';"
                     "s.dispatchEvent(new Event('change'))")
        assert wait_for(lambda: browser.eval("window.vigilWall.pages") == 5, 10)
        first = browser.eval("window.vigilWall.tiles[0].camera")
        assert wait_for(lambda: browser.eval("window.vigilWall.tiles[0].camera") != first, 15)
        assert browser.eval("window.vigilWall.page") == 1
        # A saved layout can be deleted from the wall page.
        browser.eval("document.getElementById('wall-name').value = 'spare';"
                     "document.getElementById('wall-save').click()")
        assert wait_for(lambda: "spare" in browser.eval(
            "[...document.querySelectorAll('#wall-layouts option')].map(o => o.value).join()"), 10)
        browser.eval("document.getElementById('wall-layouts').value = 'spare';"
                     "document.getElementById('wall-delete').click()")
        assert wait_for(lambda: browser.eval(
            "[...document.querySelectorAll('#wall-layouts option')].map(o => o.value).join()") == ",night desk", 10)
    finally:
        browser.close()
    with v.db.session() as s:
        row = s.scalar(select(WallLayout).where(WallLayout.name == "night desk"))
        assert (row.size, row.cameras, row.cycle_s) == (4, CAMS, 5)
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "video.wall.save")).actor == "watcher"
        assert s.scalar(select(WallLayout).where(WallLayout.name == "spare")) is None
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "video.wall.delete")).actor == "watcher"


def test_wall_layouts_are_the_users_own_and_scoped(served) -> None:
    _v, base, tokens = served
    me = {"Authorization": f"Bearer {tokens['watcher']}"}
    url = f"{base}/api/v1/video/walls"
    ok = httpx.put(url, headers=me, json={"name": "desk", "size": 9, "cameras": [CAMS[0], None, CAMS[1]]})
    assert ok.status_code == 200 and ok.json()["cameras"] == [CAMS[0], None, CAMS[1]]
    out = httpx.put(url, headers=me, json={"name": "desk", "size": 4, "cameras": [OTHER]})
    assert out.status_code == 404 and OTHER in out.json()["detail"]  # another town's camera: not found
    bad = httpx.put(url, headers=me, json={"name": "desk", "size": 6, "cameras": []})
    assert bad.status_code == 422 and "1, 4, 9 or 16" in bad.json()["detail"]
    assert [w["size"] for w in httpx.get(url, headers=me).json()["items"]] == [9]  # the refused saves changed nothing
    other = httpx.get(url, headers={"Authorization": f"Bearer {tokens['colleague']}"}).json()
    assert other["items"] == []  # a colleague does not see my layouts
    wid = ok.json()["id"]
    gone = httpx.delete(f"{url}/{wid}", headers={"Authorization": f"Bearer {tokens['colleague']}"})
    assert gone.status_code == 404  # nor delete them
    assert httpx.delete(f"{url}/{wid}", headers=me).status_code == 204
    assert httpx.get(url, headers=me).json()["items"] == []
