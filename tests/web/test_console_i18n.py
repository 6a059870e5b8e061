"""The console in Chinese: the switch, the choice kept on the user, dates in the instance time zone, money."""

from __future__ import annotations

import dataclasses

import pytest
from console_world import City, browser_errors
from test_console import _css, _sign_in, _text, _wait

pytestmark = pytest.mark.browser


def _js(driver, expr: str):  # type: ignore[no-untyped-def]
    """Evaluate `expr` with the page's own i18n module as `m` (same module instance as the console's)."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"import('/ui/js/i18n.js').then((m) => done({expr})).catch((e) => done('ERR ' + e));")


def test_switch_to_chinese_is_kept_for_the_user(chrome, console: City, sqlite_vigil) -> None:
    sqlite_vigil.settings = dataclasses.replace(sqlite_vigil.settings, time_zone="Asia/Shanghai")
    d = chrome
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, "#nav a[data-route=cameras]") and _css(x, "#camera-table tbody tr"))
    assert _text(d, "#nav a[data-route=cameras]") == "Cameras"          # the browser says en-GB
    assert _css(d, "#lang-switch")[0].get_attribute("value") == "en"
    d.execute_script("const s = document.getElementById('lang-switch'); s.value = 'zh-CN';"
                     "s.dispatchEvent(new Event('change'));")
    _wait(d, lambda x: _text(x, "#nav a[data-route=cameras]") == "摄像机" and _css(x, "#camera-table tbody tr"))
    assert d.execute_script("return document.documentElement.lang") == "zh-CN"
    assert "共" in _text(d, "#page-count") and _text(d, "#logout") == "退出"
    assert _text(d, "#camera-table thead") .startswith("编号")
    # Another desk: this browser forgets, the server remembers.
    d.execute_script("localStorage.clear()")
    d.refresh()
    _wait(d, lambda x: _text(x, "#nav a[data-route=cameras]") == "摄像机")
    # Dates in the instance's zone (Asia/Shanghai), numbers and money for the language.
    assert _js(d, "m.formatDateTime('2026-11-01T17:05:00Z')") == "2026/11/02 01:05"
    assert _js(d, "m.localDay(new Date('2026-11-01T17:05:00Z'))") == "2026-11-02"
    assert _js(d, "m.formatMoney(2560000)") == "256 万元"
    assert _js(d, "[m.lang(), m.t('{{n}} s', {n: 34})].join('|')") == "zh-CN|34 秒"
    d.execute_script("const s = document.getElementById('lang-switch'); s.value = 'en';"
                     "s.dispatchEvent(new Event('change'));")
    _wait(d, lambda x: _text(x, "#nav a[data-route=cameras]") == "Cameras")
    assert _js(d, "[m.formatMoney(2560000), m.formatDateTime('2026-11-01T17:05:00Z')].join('|')") \
        == "¥2.56 M|2026-11-02 01:05"
    assert browser_errors(d) == []
