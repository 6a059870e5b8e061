"""The MapLibre map in a real Chromium (WebGL through SwiftShader): drawn from the instance's own vectors with no
outside request, filters by kind, lifecycle and state update the cameras, the sites and the counts, field-of-view
cones appear at close zoom only, a metric scale bar, no horizontal overflow at 1280 px, region outlines with names."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from console_world import City, browser_errors, seed_health, seed_plan
from sqlalchemy import select
from test_console import _css, _sign_in, _text, _wait
from test_console_maintenance import _fresh, _no_overflow

from vigil.core.models import Region

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
    _wait(d, lambda x: _data(x, "drawn") == str(len(console.cameras)))  # MapLibre came to rest with them
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


def test_map_layers_cached_and_compressed(console: City) -> None:
    """The sites layer comes in one answer with an ETag: asked again unchanged it is a bodiless 304, and a changed
    site changes the tag; the camera layer comes gzipped to a browser that accepts it (three sites are too few)."""
    with httpx.Client(base_url=console.base) as cl:
        r = cl.post("/api/v1/auth/login", json={"username": "admin", "password": console.admin_password})
        assert r.status_code == 200, r.text
        cl.headers["Authorization"] = f"Bearer {r.json()['token']}"  # a bearer, not the cookie: no CSRF check
        cl.cookies.clear()
        r = cl.get("/api/v1/sites/geojson", params={"region": "530181"})
        assert r.status_code == 200
        assert r.headers["cache-control"] == "private, no-cache"
        tag, feats = r.headers["etag"], r.json()["features"]
        assert len(feats) == 3 and all(f["geometry"]["type"] == "Polygon" for f in feats)
        assert {"id", "name", "kind", "protection_class", "sensitive"} <= set(feats[0]["properties"])
        again = cl.get("/api/v1/sites/geojson", params={"region": "530181"}, headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
        renamed = feats[0]["properties"]["name"] + " (renamed)"
        assert cl.patch(f"/api/v1/sites/{feats[0]['id']}", json={"name": renamed}).status_code == 200
        changed = cl.get("/api/v1/sites/geojson", params={"region": "530181"}, headers={"If-None-Match": tag})
        assert changed.status_code == 200 and changed.headers["etag"] != tag
        assert changed.json()["features"][0]["properties"]["name"] == renamed
        cams = cl.get("/api/v1/cameras/geojson", params={"region": "530181"}, headers={"Accept-Encoding": "gzip"})
        assert cams.status_code == 200 and cams.headers["content-encoding"] == "gzip"
        assert len(cams.json()["features"]) == len(console.cameras)


def _outline_towns(v) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Give both towns of the console city an outline around their villages; code -> name."""
    with v.db.session() as s:
        towns = {r.code: r for r in s.scalars(select(Region).where(Region.level == 3))}
        for code, (lon, lat, d) in {"53018101": (102.475, 24.912, 0.012), "53018102": (102.49, 24.918, 0.006)}.items():
            ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]
            towns[code].outline = {"type": "Polygon", "coordinates": [ring]}
        return {c: r.name for c, r in towns.items()}


def test_map_draws_region_outlines_with_labels(chrome, console: City, sqlite_vigil) -> None:
    """The towns' outlines come from GET /regions/geojson and are drawn under the sites, named by HTML labels
    (no glyph is fetched)."""
    names = _outline_towns(sqlite_vigil)
    d = chrome
    _fresh(d)
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, "#camera-table tbody tr"))
    d.get(console.base + "/ui/#/map?region=530181")
    _wait(d, lambda x: _data(x, "regions") == "2" and _data(x, "cameras") == str(len(console.cameras)))
    _wait(d, lambda x: _data(x, "outlines") == "2")  # both outlines rendered in the region-line layer
    labels = d.execute_script("return [...document.querySelectorAll('#map .map-region-label')]"
                              ".filter(e => !e.hidden).map(e => [e.dataset.code, e.textContent])")
    assert sorted(labels) == sorted([list(kv) for kv in names.items()])
    fetched = d.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert any("/api/v1/regions/geojson" in u for u in fetched)
    assert all(u.startswith(console.base) for u in fetched), fetched  # still nothing from outside
    assert browser_errors(d) == []


def test_the_plan_map_draws_its_regions_outline(chrome, console: City, sqlite_vigil) -> None:
    """A plan of a village is drawn inside its town's outline (the village has none: the nearest one above it)."""
    _outline_towns(sqlite_vigil)
    plan_id = seed_plan(sqlite_vigil)  # region 53018101001, in town 53018101
    d = chrome
    _fresh(d)
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, "#camera-table tbody tr"))
    d.get(console.base + f"/ui/#/plans/{plan_id}")
    plan = "return document.querySelector('#plan-map canvas')?.dataset[arguments[0]] ?? ''"
    _wait(d, lambda x: x.execute_script(plan, "regions") == "1" and x.execute_script(plan, "cameras") == "7")
    _wait(d, lambda x: x.execute_script(plan, "outlines") == "1")  # drawn: the plan lies inside the outline
    assert d.execute_script("return document.querySelector('#plan-map .map-region-label').dataset.code") == "53018101"
    assert browser_errors(d) == []


@contextlib.contextmanager
def base_map_server(v, handler: type[BaseHTTPRequestHandler], path: str):  # type: ignore[no-untyped-def]
    """Serve ``handler`` on 127.0.0.1 and point the instance's tile URL at ``path`` on it."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    v.settings = dataclasses.replace(v.settings, tile_url=f"http://127.0.0.1:{srv.server_address[1]}{path}")
    try:
        yield
    finally:
        srv.shutdown()
        srv.server_close()


def map_edge_shows(d, console: City, channel: int) -> None:  # type: ignore[no-untyped-def]
    """Open the map signed in; wait until its left edge (no site there) is the base map's colour.

    ``channel`` (0 red, 1 green, 2 blue) is the one colour the test's tiles are painted in.
    """
    _fresh(d)
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, "#camera-table tbody tr"))
    d.get(console.base + "/ui/#/map?region=530181")
    _wait(d, lambda x: _data(x, "cameras") == str(len(console.cameras)))
    probe = f"""
        const gl = document.querySelector('#map canvas');
        const c = Object.assign(document.createElement('canvas'), {{ width: gl.width, height: gl.height }});
        c.getContext('2d').drawImage(gl, 0, 0);
        const px = c.getContext('2d').getImageData(4, Math.round(gl.height / 2), 1, 1).data;
        return [0, 1, 2].every(i => i === {channel} ? px[i] > 150 : px[i] < 60);"""
    _wait(d, lambda x: x.execute_script(probe))


@pytest.fixture
def tile_server(sqlite_vigil):  # type: ignore[no-untyped-def]
    """A loopback XYZ tile server: every tile plain red."""
    import cv2
    import numpy as np

    tile = np.zeros((256, 256, 3), np.uint8)
    tile[:] = (0, 0, 200)  # BGR: red
    png = cv2.imencode(".png", tile)[1].tobytes()
    hits: list[str] = []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    with base_map_server(sqlite_vigil, Tiles, "/{z}/{x}/{y}.png"):
        yield hits


def test_map_draws_configured_tiles_under_vectors(chrome, tile_server, console: City) -> None:
    """With VIGIL_TILE_URL the map fetches the tiles (allowed by the CSP) and paints them under our vectors."""
    map_edge_shows(chrome, console, 0)
    assert tile_server and all(p.endswith(".png") for p in tile_server)
    assert browser_errors(chrome) == []
