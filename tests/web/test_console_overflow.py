"""Every main page of the console at 1280 px, in English and in Chinese, in a real headless Chromium: nothing
scrolls sideways (the page, its panels, its cards, and the nav: an English admin's 15 links wrap onto a second
row instead of scrolling out of sight). The pages and their "drawn" tests are those of ``scripts/screenshots.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from console_world import City, browser_errors, choose_language, overflowing, seed_health, seed_plan
from test_console import _sign_in, _text, _wait

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from screenshots import PAGES  # noqa: E402

pytestmark = pytest.mark.browser
NAV = {"en": "Cameras", "zh-CN": "摄像机"}


def _language(d, lang: str) -> None:  # type: ignore[no-untyped-def]
    """Switch the console's language with the top bar's switch (remembered for the user, so centre.html too)."""
    choose_language(d, lang)
    _wait(d, lambda x: _text(x, '#nav a[data-route="cameras"]') == NAV[lang])


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_no_main_page_overflows_at_1280(chrome, console: City, sqlite_vigil, shots: Path, lang: str) -> None:
    seed_health(sqlite_vigil, console)
    plan = seed_plan(sqlite_vigil)
    camera = sorted(console.cameras)[0]
    d = chrome
    d.get("about:blank")
    d.get_log("browser")
    d.set_window_size(1280, 900)
    _sign_in(d, console)
    _wait(d, lambda x: _text(x, "#nav a.active") != "")
    _language(d, lang)
    # the admin's whole nav (15 links), the case that did not fit in English
    _wait(d, lambda x: x.execute_script("return document.querySelectorAll('#nav a').length") >= 15)
    bad = {}
    for page in PAGES:
        d.get("about:blank")
        d.get(console.base + page.path.format(camera=camera, plan=plan))
        _wait(d, lambda x, p=page: x.execute_script(f"return !!({p.ready})"), timeout=30)
        d.save_screenshot(str(shots / f"overflow-{page.name}-{lang}.png"))
        if over := overflowing(d):
            bad[page.name] = over
        if page.name != "centre":  # the nav is whole and visible: every link inside the window, none clipped
            clipped = d.execute_script(
                "return [...document.querySelectorAll('#nav a')].filter(a => { const r = a.getBoundingClientRect();"
                " return r.width === 0 || r.right > innerWidth || r.bottom > "
                "document.querySelector('.topbar').getBoundingClientRect().bottom; }).map(a => a.innerText)")
            if clipped:
                bad[f"{page.name} nav"] = clipped
    assert bad == {}, f"overflows sideways at 1280 px in {lang}: {bad}"
    # the zones page asks for a snapshot of a camera that streams nothing here: its 503 is an answer, shown
    assert [e for e in browser_errors(d) if "/api/v1/video/snapshots/" not in e] == []
