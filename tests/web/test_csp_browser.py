"""The strict Content-Security-Policy holds in a real Chromium: the console, the live page and the
vendored API docs work under it, and the browser reports no violation."""

from __future__ import annotations

import pytest
from console_world import City
from test_console import _css, _sign_in, _wait

pytestmark = pytest.mark.browser


def _violations(driver) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.get("message", "") for e in driver.get_log("browser")
            if "Content Security Policy" in e.get("message", "") or "Refused to" in e.get("message", "")]


def test_console_and_api_docs_work_under_the_csp(chrome, console: City) -> None:
    d = chrome
    d.get_log("browser")  # start from an empty log
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, "#camera-table tbody tr[data-id]"))
    d.get(console.base + "/ui/#map")
    _wait(d, lambda x: _css(x, "canvas"))
    d.get(console.base + "/ui/live.html")  # no camera given: the page's own script answers
    _wait(d, lambda x: "no camera" in _css(x, "#status")[0].text)
    assert _violations(d) == []

    d.get(console.base + "/docs")
    _wait(d, lambda x: "Vigil API" in (x.execute_script(
        "return document.querySelector('.swagger-ui .info .title')?.innerText") or ""))
    # Swagger UI renders its operation list virtually (only what is near the viewport): the spec's
    # operations were loaded from /openapi.json, and the first of them are drawn.
    _wait(d, lambda x: (x.execute_script("return window.ui.specSelectors.operations().size") or 0) > 20)
    _wait(d, lambda x: len(_css(x, ".opblock")) > 5)
    d.get(console.base + "/redoc")
    _wait(d, lambda x: "Vigil API" in (x.execute_script("return document.querySelector('h1')?.innerText") or ""))
    # ReDoc's footer always asks its CDN for a logo: the CSP blocks it before it reaches the network,
    # and the image hides itself. Anything else blocked would be a page broken by the policy.
    logo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
    blocked = _violations(d)
    assert [m for m in blocked if logo not in m] == []
    names = d.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    foreign = [n for n in names if not n.startswith((console.base, "blob:"))]
    assert foreign in ([], [logo]) and (not foreign or any(logo in m for m in blocked)), (names, blocked)
