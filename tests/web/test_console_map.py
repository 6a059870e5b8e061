"""The MapLibre map in a real Chromium (WebGL through SwiftShader): drawn from the instance's own vectors with no
outside request, filters by kind, lifecycle and state update the cameras, the sites and the counts, field-of-view
cones appear at close zoom only, a metric scale bar, no horizontal overflow at 1280 px."""

from __future__ import annotations

import pytest
from console_world import City, browser_errors, seed_health
from test_console import _css, _sign_in, _text, _wait
from test_console_maintenance import _fresh, _no_overflow

pytestmark = pytest.mark.browser


def _data(d, key: str) -> str:  # type: ignore[no-untyped-def]
    return d.execute_script("return document.querySelector('#map canvas')?.dataset[arguments[0]] ?? ''", key)


def _pick(d, sel: str, value: str) -> None:  # type: ignore[no-untyped-def]
    d.execute_script("const s = document.querySelector(arguments[0]); s.value = arguments[1];"
                     "s.dispatchEvent(new Event('change'));", sel, value)


def test_map_filters_cones_and_scale(chrome, console: City, sqlite_vigil) -> None:
    states = seed_health(sqlite_vigil, console)
    d = chrome
    _fresh(d)
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, "#camera-table tbody tr"))
    d.get(console.base + "/ui/#/map?region=530181")
    _wait(d, lambda x: _data(x, "cameras") == str(len(console.cameras)) and _data(x, "sites") == "3")
    assert d.execute_script("return !!document.querySelector('#map canvas').getContext('webgl2')")
    fetched = d.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(u.startswith(console.base) for u in fetched), fetched   # offline: nothing from outside
    assert any("maplibre-gl-worker.mjs" in u for u in fetched)
    # by kind: the gas-station cameras are all in the gas-station villages' sites
    gas = [c for c in console.cameras.values() if c["kind"] == "gas_station"]
    _pick(d, "#map-kind", "gas_station")
    _wait(d, lambda x: _data(x, "cameras") == str(len(gas)))
    assert _text(d, ".map-status").startswith(f"{len(gas)} cameras")
    _pick(d, "#map-kind", "")
    planned = [c for c in console.cameras.values() if c["lifecycle"] == "planned"]
    _pick(d, "#map-lifecycle", "planned")
    _wait(d, lambda x: _data(x, "cameras") == str(len(planned)))
    _pick(d, "#map-lifecycle", "")
    _css(d, "#map-only-down")[0].click()
    down = [cid for cid, s in states.items() if s == "down"]
    towns = {console.cameras[cid]["region"] for cid in down}
    _wait(d, lambda x: _data(x, "cameras") == str(len(down)) and _data(x, "sites") == str(len(towns)))
    _css(d, "#map-only-down")[0].click()
    _wait(d, lambda x: _data(x, "cameras") == str(len(console.cameras)))
    # the whole city: no cones; close to one camera: its cone and its neighbours'
    _wait(d, lambda x: _data(x, "cones") == "0")
    _css(d, "#map-search")[0].send_keys(down[0])
    _wait(d, lambda x: _data(x, "highlight") == down[0] and float(_data(x, "zoom")) >= 17)
    _wait(d, lambda x: int(_data(x, "cones") or 0) >= 1)
    scale = _text(d, ".maplibregl-ctrl-scale").replace("\xa0", " ")
    assert scale.split(" ")[-1] in ("m", "km") and float(scale.split(" ")[0]) > 0, scale
    _no_overflow(d, "map")
    assert browser_errors(d) == []
