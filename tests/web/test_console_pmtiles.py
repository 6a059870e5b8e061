"""The base map from a PMTiles archive: with VIGIL_TILE_URL naming a .pmtiles file (served on 127.0.0.1 by the
test, with HTTP range requests), the console's map reads it and paints its tiles under the instance's vectors."""

from __future__ import annotations

import re
from http.server import BaseHTTPRequestHandler

import cv2
import numpy as np
import pytest
from console_world import City, browser_errors
from pmtileskit import one_tile_archive
from test_console_map import base_map_server, map_edge_shows

pytestmark = pytest.mark.browser


@pytest.fixture
def pmtiles_server(sqlite_vigil):  # type: ignore[no-untyped-def]
    """A loopback server of one .pmtiles archive (every tile plain green), answering range requests."""
    tile = np.zeros((256, 256, 3), np.uint8)
    tile[:] = (0, 200, 0)  # BGR: green
    archive = one_tile_archive(cv2.imencode(".png", tile)[1].tobytes())
    ranges: list[str] = []

    class Archive(BaseHTTPRequestHandler):
        def _cors(self) -> None:
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Headers", "Range, If-Match")
            self.send_header("Access-Control-Expose-Headers", "Content-Range, Content-Length, ETag")

        def do_OPTIONS(self) -> None:  # noqa: N802
            self.send_response(204)
            self._cors()
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            m = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
            if self.path != "/city.pmtiles" or not m:
                self.send_error(416 if self.path == "/city.pmtiles" else 404)
                return
            a, b = int(m[1]), min(int(m[2]), len(archive) - 1)
            ranges.append(f"{a}-{b}")
            body = archive[a:b + 1]
            self.send_response(206)
            self._cors()
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Range", f"bytes {a}-{b}/{len(archive)}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    with base_map_server(sqlite_vigil, Archive, "/city.pmtiles"):
        yield ranges


def test_map_draws_a_pmtiles_base_layer(chrome, pmtiles_server, console: City) -> None:
    map_edge_shows(chrome, console, 1)
    assert pmtiles_server[0].startswith("0-")  # the header and root directory first, then the tile's bytes
    assert len(pmtiles_server) >= 2
    assert browser_errors(chrome) == []
