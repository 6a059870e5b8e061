"""Queue lengths as a time series: per-minute maxima kept by the analytics sink, bucketed per lane and node."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from factories import TOWN1, TOWN2, build_world
from vigil.access.guard import Scope
from vigil.analytics.events import DatabaseSink
from vigil.analytics.roadrules import MinuteMax, QueueMinute
from vigil.api.app import create_app
from vigil.centre import traffic
from vigil.core.errors import NotFoundError

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def test_minute_max_folds_measurements_and_closes_minutes():
    mm = MinuteMax("cam")
    assert mm.add("lane", T0 + timedelta(seconds=5), 10.0, 2) == []
    assert mm.add("lane", T0 + timedelta(seconds=40), 25.0, 4) == []
    assert mm.add("lane", T0 + timedelta(seconds=50), 12.0, 2) == []
    closed = mm.add("lane", T0 + timedelta(seconds=61), 3.0, 1)
    assert closed == [QueueMinute("cam", "lane", T0, 25.0, 4)]
    assert mm.flush() == [QueueMinute("cam", "lane", T0 + timedelta(minutes=1), 3.0, 1)]


def test_bucket_max_pure():
    rows = [("c", "lane", T0 + timedelta(minutes=m), x) for m, x in ((0, 5.0), (30, 40.0), (70, 12.0))]
    buckets, peaks = traffic.bucket_max(rows, T0, T0 + timedelta(hours=3), timedelta(hours=1))
    assert len(buckets) == 3 and peaks[("c", "lane")] == [40.0, 12.0, None]


def test_queue_lengths_per_lane_and_node_within_scope(vigil):
    w = build_world(vigil)
    c1, c2 = w.cameras[TOWN1], w.cameras[TOWN2]
    sink1, sink2 = DatabaseSink(vigil, TOWN1), DatabaseSink(vigil, TOWN2)
    for m, x in ((1, 12.0), (2, 36.5), (65, 8.0)):
        sink1.record_queue(QueueMinute(c1, "north approach", T0 + timedelta(minutes=m), x, int(x // 6)))
    sink1.record_queue(QueueMinute(c1, "north approach", T0 + timedelta(minutes=2), 20.0, 3))  # same minute: keeps 36.5
    sink1.record_queue(QueueMinute(c1, "east approach", T0 + timedelta(minutes=3), 50.0, 8))
    sink2.record_queue(QueueMinute(c2, "north approach", T0 + timedelta(minutes=4), 99.0, 15))
    end = T0 + timedelta(hours=2)
    with vigil.db.session() as s:
        got = traffic.queue_lengths(s, scope=Scope.of([TOWN1]), start=T0, end=end)
        assert {(x["zone"], tuple(x["max_m"])) for x in got.series} == {("north approach", (36.5, 8.0)),
                                                                        ("east approach", (50.0, None))}
        assert {x["camera_id"] for x in got.series} == {c1}
        assert [(n["node"], n["max_m"]) for n in got.nodes] == [(f"site:{w.sites[TOWN1]}", [50.0, 8.0])]
        with pytest.raises(NotFoundError):
            traffic.queue_lengths(s, scope=Scope.of([TOWN1]), start=T0, end=end, camera=c2)
        other = traffic.queue_lengths(s, scope=Scope.everything(), start=T0, end=end, region=TOWN2)
        assert [x["peak_m"] for x in other.series] == [99.0]
    client = TestClient(create_app(vigil))
    r = client.get("/api/v1/centre/traffic/queues", params={"start": T0.isoformat(), "end": end.isoformat()},
                   headers={"Authorization": f"Bearer {w.tokens[TOWN2]}"})
    assert r.status_code == 200 and [x["max_m"] for x in r.json()["series"]] == [[99.0, None]]
    bad = client.get("/api/v1/centre/traffic/queues", params={"start": "yesterday"},
                     headers={"Authorization": f"Bearer {w.tokens[TOWN2]}"})
    assert bad.status_code in (400, 422) and "ISO 8601" in bad.text
