"""Per-lane vehicle counts from line crossings: buckets, lanes and directions, road nodes, scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from factories import TOWN1, TOWN2, build_world
from vigil.access.guard import Scope
from vigil.analytics.models import Event
from vigil.centre import traffic
from vigil.core.errors import InputError, NotFoundError
from vigil.core.models import Camera

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def test_bucket_counts_pure():
    rows = [("c", "lane1", "forward", T0 + timedelta(minutes=m)) for m in (0, 10, 59, 60, 130, 180)]
    rows.append(("c", "lane1", "backward", T0 + timedelta(minutes=5)))
    buckets, counts = traffic.bucket_counts(rows, T0, T0 + timedelta(hours=3), timedelta(hours=1))
    assert buckets == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert counts[("c", "lane1", "forward")].tolist() == [3, 1, 1]  # 180 min is outside [start, end)
    assert counts[("c", "lane1", "backward")].tolist() == [1, 0, 0]
    with pytest.raises(InputError):
        traffic.bucket_counts([], T0, T0, timedelta(hours=1))
    with pytest.raises(InputError):
        traffic.bucket_counts([], T0, T0 + timedelta(days=400), timedelta(hours=1))


def _crossing(s, cam: Camera, lane: str, direction: str, at: datetime, label: str = "car") -> None:
    s.add(Event(uid=str(uuid4()), camera_id=cam.id, region_code=cam.region_code, type="line_crossing", label=label,
                start=at, end=at, zone=lane, direction=direction, box=[0, 0, 1, 1], score=0.8))


def test_counts_per_lane_and_node_within_scope(vigil):
    w = build_world(vigil)
    with vigil.db.session() as s:
        c1, c2 = s.get(Camera, w.cameras[TOWN1]), s.get(Camera, w.cameras[TOWN2])
        for m in (1, 2, 70):
            _crossing(s, c1, "north lane", "forward", T0 + timedelta(minutes=m))
        _crossing(s, c1, "south lane", "backward", T0 + timedelta(minutes=3), label="truck")
        _crossing(s, c1, "north lane", "forward", T0 + timedelta(minutes=4), label="person")  # not a vehicle
        _crossing(s, c2, "north lane", "forward", T0 + timedelta(minutes=5))
    with vigil.db.session() as s:
        got = traffic.traffic_counts(s, scope=Scope.of([TOWN1]), start=T0, end=T0 + timedelta(hours=2))
        lanes = {(x["lane"], x["direction"]): x["counts"] for x in got.series}
        assert lanes == {("north lane", "forward"): [2, 1], ("south lane", "backward"): [1, 0]}
        assert {x["camera_id"] for x in got.series} == {c1.id}
        assert [(n["node"], n["counts"]) for n in got.nodes] == [(f"site:{c1.site_id}", [3, 1])]
        assert got.nodes[0]["directions"] == {"backward": [1, 0], "forward": [2, 1]}
        with pytest.raises(NotFoundError):
            traffic.traffic_counts(s, scope=Scope.of([TOWN1]), start=T0, end=T0 + timedelta(hours=2), camera=c2.id)
        every = traffic.traffic_counts(s, scope=Scope.everything(), start=T0, end=T0 + timedelta(hours=2),
                                       region=TOWN2)
        assert [x["total"] for x in every.series] == [1]
