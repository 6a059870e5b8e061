"""A console error in Chinese: the fetch wrapper sends the console's language, so the server's problem ``detail``
comes back in it and the translated frame around it reads as one Chinese sentence."""

from __future__ import annotations

import pytest
from console_world import City, browser_errors
from test_console import _css, _sign_in, _text, _wait

pytestmark = pytest.mark.browser


def test_a_refused_camera_listing_reads_in_chinese(chrome, console: City) -> None:
    d = chrome
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, "#nav a[data-route=cameras]") and _css(x, "#camera-table tbody tr"))
    d.execute_script("location.hash = '#/cameras?sort=bogus'")
    _wait(d, lambda x: _css(x, "p.message.error"))
    assert _text(d, "p.message.error").startswith("Could not load cameras: cannot sort by 'bogus'")
    d.execute_script("const s = document.getElementById('lang-switch'); s.value = 'zh-CN';"
                     "s.dispatchEvent(new Event('change'));")
    _wait(d, lambda x: _text(x, "#nav a[data-route=cameras]") == "摄像机" and _css(x, "p.message.error"))
    _wait(d, lambda x: _text(x, "p.message.error").startswith("无法加载摄像机："))
    assert _text(d, "p.message.error") == (
        "无法加载摄像机：不能按 'bogus' 排序；可选：id, kind, lifecycle, name, region, updated")
    # the wrapper's header, as the server saw it: a problem keeps its English beside the Chinese
    english = d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('/ui/js/api.js').then((m) => m.api('/cameras', { query: { sort: 'bogus' } }))"
        ".catch((e) => done(e.problem?.detail_en || 'ERR ' + e));")
    assert english.startswith("cannot sort by 'bogus'; use one of id")
    d.execute_script("const s = document.getElementById('lang-switch'); s.value = 'en';"
                     "s.dispatchEvent(new Event('change'));")  # the next test starts in English
    _wait(d, lambda x: _text(x, "#nav a[data-route=cameras]") == "Cameras")
    assert [e for e in browser_errors(d) if "422" not in e] == []


def test_a_refused_form_names_the_field_in_chinese(chrome, console: City) -> None:
    """A name of blanks passes the form's `required` and is trimmed to nothing: the server's 422 names the field,
    in the console's language (pydantic's message translated by its type and ctx)."""
    d = chrome
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, "#nav a[data-route=users]"))
    d.get(console.base + "/ui/#/users")
    _wait(d, lambda x: _css(x, "#user-name"))

    def refuse() -> str:
        _css(d, "#user-name")[0].clear()
        _css(d, "#user-name")[0].send_keys("   ")
        _css(d, "#user-regions")[0].clear()
        _css(d, "#user-regions")[0].send_keys("53018102")
        _css(d, "#user-add")[0].click()
        _wait(d, lambda x: "name" in _text(x, "#toast"))
        said = _text(d, "#toast")
        d.execute_script("document.getElementById('toast').textContent = ''")
        return said

    assert refuse() == "Not added: the request is not valid: name: String should have at least 1 character"
    d.execute_script("const s = document.getElementById('lang-switch'); s.value = 'zh-CN';"
                     "s.dispatchEvent(new Event('change'));")
    # the switch reloads the page: "" is the page between the two, so wait for the new page's own label and form
    _wait(d, lambda x: _text(x, "#user-add") not in ("", "Add") and _css(x, "#user-name") and _css(x, "#user-regions"))
    said = refuse()
    assert said.endswith("请求无效：name：至少 1 个字符") and "String should" not in said
    d.execute_script("const s = document.getElementById('lang-switch'); s.value = 'en';"
                     "s.dispatchEvent(new Event('change'));")  # the next test starts in English
    _wait(d, lambda x: _text(x, "#user-add") == "Add")
    assert [e for e in browser_errors(d) if "422" not in e] == []
