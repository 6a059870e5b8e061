"""Large uploads stream through a temporary file, keep all-or-nothing, and imports take a bounded number of slots."""

from __future__ import annotations

import json

import pytest
from importkit import CAMERA_HEADER, counts, transfer_client

from vigil.api.routers import transfer
from vigil.core.models import Camera

VILLAGES = ("53018101001", "53018102001")
N = 11_000  # over 5 MiB of CSV (long names and URLs: the bytes count, not the rows)
PAD = "-" * 180


def _csv(n: int, bad_line: int | None = None) -> bytes:
    rows = [CAMERA_HEADER]
    for i in range(n):
        lat = "95" if i + 2 == bad_line else f"{25.0 + i * 1e-6:.6f}"
        rows.append(f",Big {i} {PAD},{VILLAGES[i % 2]},,102.{700000 + i},{lat},6,90,20,,public_area,public_security,"
                    f"in_service,rtsp://127.0.0.1:8554/c{i}/{PAD}{PAD},,,")
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture
def api(sqlite_vigil):
    return *transfer_client(sqlite_vigil), sqlite_vigil


def _leftovers(v) -> list[str]:
    return [p.name for p in v.settings.home.iterdir() if p.name.startswith(".import-")]


def test_a_large_csv_streams_in_and_a_bad_row_late_rejects_it_whole(api):
    c, h, v = api
    data = _csv(N)
    assert len(data) > 5 * 2**20
    r = c.post("/api/v1/import/cameras", files={"file": ("big.csv", data, "text/csv")}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == N and r.json()["generated_ids"] == N
    assert counts(v)["cameras"] == N and _leftovers(v) == []
    with v.db.session() as s:
        before = {c.id: (c.name, c.lat, c.tilt_deg) for c in s.query(Camera)}
    # the same file again with every tilt moved, and one latitude out of range near the end
    moved = _csv(N, bad_line=N - 3).replace(b",90,20,", b",90,30,")
    r = c.post("/api/v1/import/cameras", files={"file": ("big.csv", moved, "text/csv")}, headers=h)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"line": N - 3, "field": "lat", "reason": "95 is out of range -90 to 90"}]
    with v.db.session() as s:  # not one of the good rows before it was written
        assert {c.id: (c.name, c.lat, c.tilt_deg) for c in s.query(Camera)} == before
    assert _leftovers(v) == []
    r = c.post("/api/v1/import/cameras", files={"file": ("big.csv", moved.replace(b",95,", b",25,"))}, headers=h)
    assert r.status_code == 200 and r.json()["updated"] == N and r.json()["created"] == 0


def test_a_geojson_collection_streams_feature_by_feature(api):
    c, h, v = api
    feats = [{"type": "Feature", "properties": {"name": f"Geo {i}", "region": VILLAGES[i % 2]},
              "geometry": {"type": "Point", "coordinates": [102.7 + i * 1e-5, 25.0]}} for i in range(3000)]
    doc = {"features": feats, "type": "FeatureCollection"}  # "type" after the features: read all the same
    r = c.post("/api/v1/import/cameras", files={"file": ("c.geojson", json.dumps(doc).encode())}, headers=h)
    assert r.status_code == 200 and r.json()["created"] == 3000
    feats[2990]["geometry"] = {"type": "Polygon", "coordinates": []}
    feats.append({"type": "Feature", "properties": {"name": "Geo late", "region": VILLAGES[0]},
                  "geometry": {"type": "Point", "coordinates": [102.8, 25.1]}})
    r = c.post("/api/v1/import/cameras", files={"file": ("c.geojson", json.dumps(doc).encode())}, headers=h)
    assert r.status_code == 422
    assert r.json()["errors"] == [{"line": 2991, "field": "geometry",
                                   "reason": "must be a Point with [longitude, latitude]"}]
    assert counts(v)["cameras"] == 3000
    r = c.post("/api/v1/import/cameras", files={"file": ("c.geojson", json.dumps(doc).encode()[:-40])}, headers=h)
    assert r.status_code == 422 and "broken GeoJSON" in r.json()["detail"] and counts(v)["cameras"] == 3000


def test_deep_nesting_inside_a_feature_is_a_row_error(api):
    c, h, v = api
    deep = b"[" * 20_000 + b"]" * 20_000
    doc = (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "Deep", '
           b'"kind": "school", "region": "53018101"}, "geometry": {"type": "Polygon", "coordinates": ' + deep + b"}}]}")
    r = c.post("/api/v1/import/sites", files={"file": ("s.geojson", doc)}, headers=h)
    assert r.status_code == 422 and r.json()["errors"] == [{"line": 1, "field": "(feature)",
                                                            "reason": "is nested too deeply"}]


def test_an_upload_over_the_limit_is_refused_and_leaves_no_file(api, monkeypatch):
    c, h, v = api
    monkeypatch.setattr(transfer, "MAX_UPLOAD", 2**20)
    r = c.post("/api/v1/import/cameras", files={"file": ("big.csv", _csv(20_000))}, headers=h)
    assert r.status_code == 422 and "larger than 1 MiB" in r.json()["detail"]
    assert counts(v)["cameras"] == 0 and _leftovers(v) == []


def test_imports_beyond_the_slots_get_503_with_retry_after(api, monkeypatch):
    c, h, v = api
    slots = transfer.ImportSlots(2, max_waiting=0, retry_after_s=7)  # no line: a third import is refused
    monkeypatch.setattr(transfer, "SLOTS", slots)
    up = {"file": ("c.csv", _csv(3))}
    with slots.slot():  # one import running: a second still has a slot
        assert c.post("/api/v1/import/cameras", files=up, headers=h).status_code == 200
        with slots.slot():  # both taken: the next one is refused, stores nothing and leaves no file
            r = c.post("/api/v1/import/cameras", files={"file": ("d.csv", _csv(5))}, headers=h)
            assert r.status_code == 503 and r.headers["Retry-After"] == "7"
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "2 import(s) are running" in r.json()["detail"]
            assert counts(v)["cameras"] == 3 and _leftovers(v) == []
    r = c.post("/api/v1/import/cameras", files={"file": ("d.csv", _csv(5))}, headers=h)
    assert r.status_code == 200 and r.json()["created"] == 2 and r.json()["unchanged"] == 3
