"""Stopped-vehicle and queue-length rules on deterministic track sequences, and their zone settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import TOWN1, TOWN2, build_world
from vigil.access.guard import Scope
from vigil.analytics.detect import COCO_LABELS, Detections
from vigil.analytics.events import AnalyticsEvent, DatabaseSink
from vigil.analytics.models import Event
from vigil.analytics.pipeline import AnalyzeOptions, Analyzer
from vigil.analytics.roadrules import Lane, QueueMinute, queue_extent
from vigil.analytics.settings import get_setting
from vigil.analytics.tracks import Track
from vigil.analytics.zones import RuleEngine, Zone, ZoneRule, ZoneSet, parse_zones
from vigil.api.app import create_app
from vigil.core.errors import InputError
from vigil.notify.models import WebhookDelivery
from vigil.notify.webhook import add_webhook

BOX = np.array([[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8]])  # a junction box
# A lane running up the picture: stop line at the bottom (y = 0.9), far end at y = 0.1; 80 m long.
LANE = np.array([[0.4, 0.1], [0.6, 0.1], [0.6, 0.9], [0.4, 0.9]])
STOP = np.array([[0.4, 0.9], [0.6, 0.9]])


def _car(tid: int, cx: float, cy: float, t: float, h: float = 0.05, label: str = "car") -> Track:
    box = np.array([cx - 0.03, cy - h / 2, cx + 0.03, cy + h / 2])
    return Track(tid, label, box, 0.8, 0.0, t, hits=3, best_box=box, best_score=0.8, first_box=box)


def _box_engine(dwell_s: float = 30.0) -> RuleEngine:
    zs = ZoneSet(zones=(Zone("junction", BOX),), rules=(ZoneRule("stopped", "junction", frozenset({"car"}),
                                                                  dwell_s, radius=0.02),))
    return RuleEngine(zs)


def test_a_car_stopped_for_30_s_raises_one_event_that_ends_when_it_moves():
    eng = _box_engine()
    fired = []
    for t in range(0, 41):  # 40 s still, with a little detector jitter
        fired += eng.update([_car(1, 0.5 + 0.003 * (-1) ** t, 0.5, float(t))], float(t))
    assert [(e.type, e.zone, e.start, e.end) for e in fired] == [("stopped", "junction", 0.0, None)]
    moved = eng.update([_car(1, 0.56, 0.5, 41.0)], 41.0)
    assert [(e.type, e.start, e.end) for e in moved] == [("stopped", 0.0, 41.0)]
    assert eng.update([_car(1, 0.60, 0.5, 42.0)], 42.0) == []  # moving on: nothing new


def test_a_stopped_car_that_disappears_ends_its_event():
    eng = _box_engine(dwell_s=10)
    car = None
    for t in range(0, 12):
        car = _car(4, 0.5, 0.5, float(t))
        eng.update([car], float(t))
    closed = eng.update([], 15.0, ended=[car])
    assert [(e.type, e.start, e.end) for e in closed] == [("stopped", 0.0, 11.0)]


def test_moving_slowly_but_steadily_raises_nothing():
    eng = _box_engine()
    fired = []
    for t in range(0, 120):  # 0.005 of the picture per second: crawls across the box in 2 minutes
        fired += eng.update([_car(2, 0.21 + 0.005 * t, 0.5, float(t))], float(t))
    assert fired == []


def test_stopped_outside_the_zone_or_of_another_label_raises_nothing():
    eng = _box_engine()
    fired = []
    for t in range(0, 40):
        fired += eng.update([_car(3, 0.9, 0.5, float(t)), _car(5, 0.5, 0.5, float(t), label="person")], float(t))
    assert fired == []


def test_lane_distances_and_queue_extent():
    lane = Lane(LANE, STOP[0], STOP[1], 80.0)
    assert lane.metres(np.array([[0.5, 0.9], [0.5, 0.5], [0.5, 0.1]])).tolist() == pytest.approx([0, 40, 80])
    assert queue_extent([(0, 5), (6, 11), (30, 35)], gap_m=4) == (11, 2)  # the third is not contiguous
    assert queue_extent([(20, 25)], gap_m=4) == (0.0, 0)  # not at the stop line: no queue
    with pytest.raises(InputError, match="length_m"):
        Lane(LANE, STOP[0], STOP[1], 0.0)


def _lane_engine() -> RuleEngine:
    zs = parse_zones({"zones": [{"name": "north approach", "polygon": LANE.tolist(), "stop_line": STOP.tolist(),
                                 "length_m": 80, "rules": [{"type": "queue", "threshold_m": 30, "hold_s": 10}]}]})
    return RuleEngine(zs)


def _queue(n: int, t: float, first_id: int = 1) -> list[Track]:
    """``n`` stationary cars nose to tail from the stop line (each 0.05 of the picture = 5 m)."""
    return [_car(first_id + k, 0.5, 0.875 - 0.06 * k, t) for k in range(n)]


def test_a_queue_growing_over_the_threshold_and_holding_raises_then_clears():
    eng = _lane_engine()
    events = []
    lengths = []
    for t in range(0, 60):
        n = min(1 + t // 4, 8) if t < 40 else 1  # grows by a car every 4 s to 8 cars (~47 m), then drains
        events += eng.update(_queue(n, float(t)), float(t))
        lengths.append(eng.queues["north approach"].metres)
    assert max(lengths) == pytest.approx(47.0, abs=0.5)
    assert [(e.type, e.zone, e.end is None) for e in events] == [("queue", "north approach", True),
                                                                   ("queue", "north approach", False)]
    opened, closed = events
    assert lengths[int(opened.start)] >= 30 > lengths[int(opened.start) - 1]  # starts when it crossed 30 m
    assert opened.start == 21.0  # 30 m first reached at t = 20 (6 cars), counted after one more frame
    assert closed.end == 50.0  # below 30 m from t = 40, cleared after the 10 s hold
    assert closed.value == pytest.approx(47.0, abs=0.5)


def test_a_short_spike_or_moving_traffic_is_no_queue():
    eng = _lane_engine()
    events = []
    for t in range(0, 8):  # 7 still cars for 7 s only: under the 10 s hold
        events += eng.update(_queue(7, float(t)), float(t))
    for t in range(8, 40):  # then a steady stream at 10 m/s: none is slow
        cars = [_car(100 + k, 0.5, 0.85 - ((0.1 * t + 0.2 * k) % 0.7), float(t)) for k in range(4)]
        events += eng.update(cars, float(t))
    assert events == []


def test_road_rules_are_checked_when_configured():
    with pytest.raises(InputError, match="stop_line and length_m"):
        parse_zones({"zones": [{"name": "l", "polygon": LANE.tolist(), "rules": [{"type": "queue",
                                                                                  "threshold_m": 10}]}]})
    with pytest.raises(InputError, match="threshold_m"):
        parse_zones({"zones": [{"name": "l", "polygon": LANE.tolist(), "stop_line": STOP.tolist(), "length_m": 50,
                                "rules": [{"type": "queue"}]}]})
    with pytest.raises(InputError, match="dwell_s"):
        parse_zones({"zones": [{"name": "b", "polygon": BOX.tolist(), "rules": [{"type": "stopped"}]}]})
    zs = parse_zones({"zones": [{"name": "b", "polygon": BOX.tolist(), "rules": [{"type": "stopped",
                                                                                  "dwell_s": 30}]}]})
    assert zs.rules[0].labels == {"car", "truck", "bus", "motorcycle"}  # vehicles by default


ROAD_ZONES = {"zones": [
    {"name": "north approach", "polygon": LANE.tolist(), "stop_line": STOP.tolist(), "length_m": 80,
     "rules": [{"type": "queue", "threshold_m": 30, "hold_s": 10}]},
    {"name": "junction", "polygon": BOX.tolist(), "rules": [{"type": "stopped", "dwell_s": 30, "radius": 0.02}]},
]}


def test_road_rules_are_set_through_the_camera_zone_settings_in_scope(vigil):
    w = build_world(vigil)
    client = TestClient(create_app(vigil))
    url = f"/api/v1/analytics/cameras/{w.cameras[TOWN1]}"
    officer = {"Authorization": f"Bearer {w.tokens[f'duty_officer-{TOWN1}']}"}
    r = client.put(url, json={"enabled": True, "zones": ROAD_ZONES}, headers=officer)
    assert r.status_code == 200 and r.json()["zones"] == ROAD_ZONES
    assert client.put(f"/api/v1/analytics/cameras/{w.cameras[TOWN2]}", json={"enabled": True, "zones": ROAD_ZONES},
                      headers=officer).status_code == 404
    no_stop = {"zones": [{**ROAD_ZONES["zones"][0], "stop_line": None}]}
    bad = client.put(url, json={"enabled": True, "zones": no_stop}, headers=officer)
    assert bad.status_code in (400, 422) and "stop_line and length_m" in bad.text and "Traceback" not in bad.text
    with vigil.db.session() as s:
        stored = get_setting(s, w.cameras[TOWN1], Scope.everything())
        rules = parse_zones(stored.zones).rules
        assert [(r.type, r.target) for r in rules] == [("queue", "north approach"), ("stopped", "junction")]


class _ScriptedDetector:
    """Not a detector: returns fixed car boxes while ``t < until`` (the wiring test below says so)."""

    def __init__(self, boxes: list[tuple[float, float, float, float]], until: float) -> None:
        self.boxes, self.until, self.t = np.array(boxes), until, 0.0

    def detect_regions(self, frame: np.ndarray, motion_boxes: np.ndarray, **_: object) -> Detections:
        if self.t >= self.until:
            return Detections.empty()
        h, w = frame.shape[:2]
        n = len(self.boxes)
        return Detections((self.boxes * [w, h, w, h]).astype(np.float32), np.full(n, 0.8, np.float32),
                          np.full(n, COCO_LABELS.index("car"), np.int64))


class _KeepingSink:
    def __init__(self) -> None:
        self.events: list[AnalyticsEvent] = []
        self.minutes: list[QueueMinute] = []

    def publish(self, event: AnalyticsEvent) -> None:
        self.events.append(event)

    def record_queue(self, sample: QueueMinute) -> None:
        self.minutes.append(sample)


def test_analyzer_wires_road_rules_to_sinks_with_a_scripted_detector():
    """Wiring only, not end-to-end: the repository's footage has no vehicle the shipped detector finds."""
    lane = [[0.6, 0.1], [0.8, 0.1], [0.8, 0.9], [0.6, 0.9]]
    zs = parse_zones({"zones": [
        {"name": "junction", "polygon": [[0.0, 0.3], [0.3, 0.3], [0.3, 0.7], [0.0, 0.7]],
         "rules": [{"type": "stopped", "dwell_s": 5}]},
        {"name": "lane", "polygon": lane, "stop_line": [[0.6, 0.9], [0.8, 0.9]], "length_m": 80,
         "rules": [{"type": "queue", "threshold_m": 10, "hold_s": 1}]}]})
    cars = [(0.1, 0.45, 0.2, 0.55)] + [(0.65, 0.85 - 0.06 * k, 0.75, 0.9 - 0.06 * k) for k in range(3)]
    det = _ScriptedDetector(cars, until=10.0)
    sink = _KeepingSink()
    origin = datetime(2026, 3, 2, 8, tzinfo=UTC)
    an = Analyzer(det, zs, options=AnalyzeOptions(camera="cam"), sinks=[sink], origin=origin)  # type: ignore[arg-type]
    luma = np.zeros((240, 320), np.uint8)
    for i in range(25 * 16):
        t = det.t = i / 25
        if i == 1:
            luma = luma.copy()
            luma[100:140, 30:70] = 255  # a real change, so motion starts the first detection round
        an.process(t, luma, lambda y=luma: np.dstack([y] * 3))
    an.finish(16.0)
    done = {e.type: e for e in an.events if e.type in ("stopped", "queue")}
    assert sorted(done) == ["queue", "stopped"]
    stopped, queue = done["stopped"], done["queue"]
    assert stopped.zone == "junction" and stopped.label == "car" and stopped.end is not None
    assert 9 <= (stopped.end - origin).total_seconds() <= 10  # last seen just before the cars vanish at 10 s
    assert (stopped.end - stopped.start).total_seconds() >= 5
    assert queue.zone == "lane" and queue.value == pytest.approx(17.0, abs=1.0)  # 3 cars of 5 m, 1 m apart
    assert 10 <= (queue.end - origin).total_seconds() <= 12  # cleared after the 1 s hold below the threshold
    starts = [e for e in sink.events if e.end is None and e.type in ("stopped", "queue")]
    assert sorted(e.type for e in starts) == ["queue", "stopped"]  # each published once when it began
    assert [(m.zone, m.minute) for m in sink.minutes] == [("lane", origin)]
    assert sink.minutes[0].max_m == pytest.approx(17.0, abs=1.0) and sink.minutes[0].vehicles == 3


def test_road_events_are_stored_and_queued_for_webhooks(vigil):
    w = build_world(vigil)
    cam = w.cameras[TOWN1]
    with vigil.db.session() as s:
        add_webhook(s, vigil, name="traffic desk", url="http://127.0.0.1:9/hook", secret="s" * 20,
                    events=["event.queue.*", "event.stopped.*"])
    sink = DatabaseSink(vigil, TOWN1)
    t0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
    ev = AnalyticsEvent(cam, "queue", "vehicle", t0, None, (0.6, 0.5, 0.8, 0.9), 0.8, zone="north approach",
                        value=31.0)
    sink.publish(ev)
    sink.publish(ev.ended(t0 + timedelta(seconds=95), value=47.0))
    with vigil.db.session() as s:
        row = s.scalars(select(Event)).one()
        assert (row.type, row.zone, row.end) == ("queue", "north approach", t0 + timedelta(seconds=95))
        sent = [(d.event, json.loads(d.body)["data"]) for d in s.scalars(select(WebhookDelivery).order_by(
            WebhookDelivery.id))]
    assert [k for k, _ in sent] == ["event.queue.start", "event.queue.end"]
    assert sent[1][1]["value"] == 47.0 and sent[1][1]["duration_s"] == 95.0 and sent[1][1]["camera"] == cam
