"""The zones editor's messages in a real headless Chromium, in Chinese: one message area above the picture says
why there is no picture, why a shape cannot end, and why the server refused a save, each in the catalogue's
words (the server's English detail is kept aside in data-detail), and nothing overlaps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from console_world import City, browser_errors, choose_language, overflowing
from test_console import _css, _sign_in, _text, _wait
from test_console_maintenance import _closed_port

from vigil.core.models import Camera

pytestmark = pytest.mark.browser
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def _messages(d) -> list[str]:  # type: ignore[no-untyped-def]
    """Every visible message box of the view (the editor has one), and the toast if shown."""
    return d.execute_script(
        "return [...document.querySelectorAll('#view .message, #view .error, #toast')]"
        ".filter(e => e.offsetParent !== null && e.innerText.trim()).map(e => e.innerText.trim())")


def test_zones_editor_messages_are_one_area_in_chinese(chrome, console: City, sqlite_vigil, shots: Path) -> None:
    cam = sorted(console.cameras)[0]
    with sqlite_vigil.db.session() as s:  # the camera answers nothing: no picture
        s.get(Camera, cam).main_url = f"rtsp://127.0.0.1:{_closed_port()}/none"
    d = chrome
    d.get("about:blank")
    d.get_log("browser")
    d.set_window_size(1280, 900)
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, '#nav a[data-route="cameras"]'))
    choose_language(d, "zh-CN")
    _wait(d, lambda x: _text(x, '#nav a[data-route="cameras"]') == "摄像机")
    d.get(console.base + f"/ui/#/zones/{cam}")
    _wait(d, lambda x: _text(x, "#zones-message"), timeout=60)
    assert _text(d, "#zones-message").startswith("摄像机当前没有画面")
    assert "no picture" in _css(d, "#zones-message")[0].get_attribute("data-detail")  # the server's words, aside
    assert _messages(d) == [_text(d, "#zones-message")]
    # the message sits above the picture, not over it, and the empty stage draws no alternative text
    boxes = d.execute_script("const m = document.getElementById('zones-message').getBoundingClientRect();"
                             "const s = document.querySelector('.zones-stage').getBoundingClientRect();"
                             "return [m.bottom, s.top, document.getElementById('zones-img').alt];")
    assert boxes[0] <= boxes[1] and boxes[2] == ""
    # a shape with too few points: the same area says so
    _css(d, "#zones-finish")[0].click()
    _wait(d, lambda x: _text(x, "#zones-message").startswith("绊线需要两个点"))
    # a shape the server refuses (a point outside the picture): the same area, in Chinese
    d.execute_script("window.vigilZones.shapes.push({kind: 'mask', name: '', points: [[0.1, 0.1], [1.7, 0.1], [0.1, 0.5]]})")
    _css(d, "#zones-save")[0].click()
    _wait(d, lambda x: _text(x, "#zones-message").startswith("服务器拒绝了这些图形"))
    d.save_screenshot(str(shots / "zones-messages-zh.png"))
    msgs = _messages(d)
    assert len(msgs) == 1 and not LATIN_WORD.search(msgs[0]), msgs
    assert overflowing(d) == []
    # the answers the page shows (a 503 picture, a 422 save) are not errors in it
    assert [e for e in browser_errors(d) if "/api/v1/video/" not in e] == []
