"""The console does not offer Live for a camera that is down: not in the camera table, not on its card."""

from __future__ import annotations

import pytest
from console_world import City, browser_errors
from test_console import _css, _sign_in, _wait

from vigil.health.models import CameraStatus

pytestmark = pytest.mark.browser


def test_no_live_for_a_down_camera(chrome, console: City, sqlite_vigil) -> None:
    in_service = sorted(c for c, f in console.cameras.items() if f["lifecycle"] == "in_service")
    down, up = in_service[0], in_service[1]
    with sqlite_vigil.db.session() as s:
        s.add(CameraStatus(camera_id=down, state="down", reason="timeout"))
        s.add(CameraStatus(camera_id=up, state="online"))
    d = chrome
    _sign_in(d, console)
    d.get(f"{console.base}/ui/#/cameras?limit=100")
    _wait(d, lambda x: _css(x, f'#camera-table tr[data-id="{down}"]') and _css(x, f'#camera-table tr[data-id="{up}"]'))
    live = d.execute_script("return Object.fromEntries([...document.querySelectorAll('#camera-table tr[data-id]')]"
                            ".map(r => [r.dataset.id, !!r.querySelector('a[href^=\"live.html\"]')]))")
    assert live[down] is False and live[up] is True
    d.get(f"{console.base}/ui/#/camera/{down}")
    _wait(d, lambda x: _css(x, "#live-down"))
    assert not _css(d, "#live-link") and not _css(d, 'a[href^="live.html"]')
    d.get(f"{console.base}/ui/#/camera/{up}")
    _wait(d, lambda x: _css(x, "#live-link"))
    assert browser_errors(d) == []
