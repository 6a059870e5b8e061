"""Zones, lines and rules on synthetic tracks (pure, no video)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPoint, Point

from vigil.analytics.tracks import Track, Tracker, iou_matrix
from vigil.analytics.zones import Line, RuleEngine, Zone, ZoneRule, ZoneSet, parse_zones
from vigil.core.errors import InputError

SQUARE = np.array([[0.2, 0.2], [0.6, 0.2], [0.6, 0.6], [0.2, 0.6]])


@pytest.mark.parametrize(("point", "inside"), [
    ((0.4, 0.4), True), ((0.1, 0.4), False), ((0.7, 0.4), False), ((0.4, 0.65), False), ((0.59, 0.21), True),
])
def test_zone_contains(point, inside):
    assert bool(Zone("z", SQUARE).contains(np.array([point]))[0]) is inside


def test_zone_contains_is_vectorised_on_a_concave_polygon():
    ell = np.array([[0, 0], [1, 0], [1, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]], dtype=float)
    got = Zone("L", ell).contains(np.array([[0.25, 0.75], [0.75, 0.75], [0.75, 0.25]]))
    assert got.tolist() == [True, False, True]


@pytest.mark.parametrize(("polygon", "message"), [
    ([[0, 0], [1, 0]], "expected shape"),
    ([[0, 0], [1.5, 0], [1, 1]], "normalised"),
    ([[0, 0], [1, 1], [1, 0], [0, 1]], "crosses itself"),
    ([[0, 0], [0.5, 0.5], [1, 1]], "crosses itself or has no area"),
])
def test_zone_rejects_bad_polygons(polygon, message):
    with pytest.raises(InputError, match=message):
        Zone("bad", np.array(polygon, dtype=float))


def test_line_crossing_is_direction_aware():
    gate = Line("gate", np.array([0.5, 0.0]), np.array([0.5, 1.0]))  # downwards: forward points left
    assert gate.crossing(np.array([0.6, 0.5]), np.array([0.4, 0.5])) == "forward"
    assert gate.crossing(np.array([0.4, 0.5]), np.array([0.6, 0.5])) == "backward"
    assert gate.crossing(np.array([0.4, 0.5]), np.array([0.45, 0.6])) is None
    short = Line("short", np.array([0.5, 0.0]), np.array([0.5, 0.3]))
    assert short.crossing(np.array([0.4, 0.5]), np.array([0.6, 0.5])) is None  # passes beyond the segment end
    with pytest.raises(InputError, match="same"):
        Line("dot", np.array([0.5, 0.5]), np.array([0.5, 0.5]))


def _track(tid: int, cx: float, bottom: float, t: float, label: str = "person", prev=None) -> Track:
    box = np.array([cx - 0.02, bottom - 0.1, cx + 0.02, bottom])
    tr = Track(tid, label, box, 0.8, 0.0, t, hits=3, best_box=box, best_score=0.8)
    tr.prev_anchor = None if prev is None else np.array(prev)
    return tr


def _engine(*rules: ZoneRule) -> RuleEngine:
    zs = ZoneSet(zones=(Zone("yard", SQUARE),),
                 lines=(Line("gate", np.array([0.8, 0.0]), np.array([0.8, 1.0])),), rules=rules)
    return RuleEngine(zs)


def test_intrusion_opens_on_entry_and_closes_on_exit():
    eng = _engine(ZoneRule("intrusion", "yard"))
    assert eng.update([_track(1, 0.1, 0.4, 1.0)], 1.0) == []
    opened = eng.update([_track(1, 0.3, 0.4, 2.0)], 2.0)
    assert [(e.type, e.zone, e.start, e.end) for e in opened] == [("intrusion", "yard", 2.0, None)]
    assert eng.update([_track(1, 0.35, 0.4, 3.0)], 3.0) == []
    closed = eng.update([_track(1, 0.7, 0.4, 4.0)], 4.0)
    assert [(e.start, e.end) for e in closed] == [(2.0, 4.0)]


def test_intrusion_respects_labels_and_track_end():
    eng = _engine(ZoneRule("intrusion", "yard", frozenset({"car"})))
    assert eng.update([_track(1, 0.3, 0.4, 1.0)], 1.0) == []  # a person: not watched
    car = _track(2, 0.3, 0.4, 1.0, label="car")
    assert len(eng.update([car], 1.0)) == 1
    closed = eng.update([], 5.0, ended=[car])
    assert [(e.label, e.end) for e in closed] == [("car", 1.0)]


def test_loitering_fires_after_the_dwell_time_with_the_entry_time():
    eng = _engine(ZoneRule("loitering", "yard", dwell_s=10))
    fired = []
    for t in range(0, 15):
        fired += eng.update([_track(7, 0.3 + 0.001 * t, 0.4, float(t))], float(t))
    assert [(e.type, e.start, e.end) for e in fired] == [("loitering", 0.0, None)]
    left = eng.update([_track(7, 0.9, 0.4, 15.0)], 15.0)
    assert [(e.start, e.end) for e in left] == [(0.0, 15.0)]


def test_loitering_resets_when_the_object_leaves():
    eng = _engine(ZoneRule("loitering", "yard", dwell_s=5))
    fired = []
    for t, x in [(0, 0.3), (3, 0.3), (4, 0.9), (5, 0.3), (8, 0.3)]:
        fired += eng.update([_track(1, x, 0.4, float(t))], float(t))
    assert fired == []
    fired += eng.update([_track(1, 0.3, 0.4, 10.0)], 10.0)
    assert [e.start for e in fired] == [5.0]


def test_line_crossing_counts_each_direction():
    eng = _engine(ZoneRule("line_crossing", "gate"))
    moves = [(1, 0.7, 0.9), (2, 0.9, 0.7), (3, 0.7, 0.9), (4, 0.75, 0.78)]
    events = []
    for tid, x0, x1 in moves:
        events += eng.update([_track(tid, x1, 0.5, 1.0, prev=(x0, 0.5))], 1.0)
    assert [e.direction for e in events] == ["backward", "forward", "backward"]
    assert all(e.start == e.end == 1.0 and e.zone == "gate" for e in events)
    assert eng.counts == {"gate": {"forward": 1, "backward": 2}}


def test_zoneset_checks_rule_targets():
    with pytest.raises(InputError, match="no zone named 'nowhere'"):
        ZoneSet(zones=(Zone("yard", SQUARE),), rules=(ZoneRule("intrusion", "nowhere"),))
    with pytest.raises(InputError, match="dwell_s"):
        ZoneRule("loitering", "yard")
    with pytest.raises(InputError, match="unknown labels"):
        ZoneRule("intrusion", "yard", frozenset({"face"}))


def test_parse_zones_file():
    zs = parse_zones({
        "zones": [{"name": "yard", "polygon": SQUARE.tolist(),
                   "rules": [{"type": "intrusion"}, {"type": "loitering", "dwell_s": 30, "labels": ["person"]}]}],
        "lines": [{"name": "gate", "points": [[0.8, 0], [0.8, 1]], "labels": ["car", "truck"]}],
        "masks": [[[0, 0], [0.1, 0], [0.1, 0.1]]],
    })
    assert [(r.type, r.target) for r in zs.rules] == [("intrusion", "yard"), ("loitering", "yard"),
                                                     ("line_crossing", "gate")]
    assert zs.rules[1].dwell_s == 30 and zs.rules[2].labels == {"car", "truck"}
    assert len(zs.masks) == 1


@pytest.mark.parametrize(("doc", "message"), [
    ({"zones": [{"name": "a", "polygon": [[0, 0], [1, 0], [1, 1]], "color": "red"}]}, "Extra inputs"),
    ({"zones": [{"name": "a", "polygon": [[0, 0], [1, 0], [1, 1]], "rules": [{"type": "fly"}]}]}, "rules"),
    ({"lines": [{"name": "l", "points": [[0, 0]]}]}, "points"),
    ({"zones": [{"name": "a", "polygon": [[0, 0], [2, 0], [1, 1]]}]}, "normalised"),
])
def test_parse_zones_rejects_bad_documents(doc, message):
    with pytest.raises(InputError, match=message):
        parse_zones(doc)


def test_tracker_follows_a_walker_and_ends_the_track():
    tr = Tracker(max_age_s=1.0)
    for i in range(5):
        x = 0.1 + 0.03 * i
        tr.update(np.array([[x, 0.3, x + 0.05, 0.5]]), np.array([0.7]), ["person"], i * 0.5)
    assert len(tr.tracks) == 1 and tr.tracks[0].hits == 5
    assert tr.tracks[0].prev_anchor is not None
    ended = tr.update(np.zeros((0, 4)), np.zeros(0), [], 5.0)
    assert len(ended) == 1 and tr.tracks == []


def test_tracker_keeps_labels_apart_and_checks_inputs():
    tr = Tracker()
    box = np.array([[0.1, 0.1, 0.2, 0.3]])
    tr.update(box, np.array([0.6]), ["person"], 0.0)
    tr.update(box, np.array([0.6]), ["bicycle"], 0.5)
    assert sorted(t.label for t in tr.tracks) == ["bicycle", "person"]
    with pytest.raises(InputError):
        tr.update(box, np.array([0.6, 0.5]), ["person"], 1.0)


def test_iou_matrix():
    a = np.array([[0, 0, 1, 1], [0, 0, 0.5, 0.5]])
    got = iou_matrix(a, np.array([[0, 0, 1, 1], [2, 2, 3, 3]]))
    assert got.shape == (2, 2) and got[0, 0] == 1 and got[1, 0] == pytest.approx(0.25) and got[0, 1] == 0

_unit = st.floats(0.0, 1.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_unit, _unit), min_size=3, max_size=12), st.lists(st.tuples(_unit, _unit), min_size=1,
                                                                             max_size=20))
def test_zone_contains_agrees_with_shapely(corners, points):
    hull = MultiPoint(corners).convex_hull
    if hull.geom_type != "Polygon" or hull.area < 1e-3:
        return
    ring = np.array(hull.exterior.coords[:-1])
    zone = Zone("hull", ring)
    got = zone.contains(np.array(points))
    for p, inside in zip(points, got, strict=True):
        if hull.exterior.distance(Point(p)) > 1e-9:  # points on the edge may go either way
            assert inside == hull.contains(Point(p))


@settings(max_examples=60, deadline=None)
@given(_unit, _unit, _unit, _unit)
@example(0.6, 0.0, 0.0, 0.6)  # just touches the gate's end (0.5, 0.1): rounding once counted one direction only
def test_a_crossing_reverses_when_the_move_reverses(x0, y0, x1, y1):
    gate = Line("gate", np.array([0.5, 0.1]), np.array([0.5, 0.9]))
    p0, p1 = np.array([x0, y0]), np.array([x1, y1])
    there, back = gate.crossing(p0, p1), gate.crossing(p1, p0)
    assert (there is None) == (back is None)
    if there:
        assert {there, back} == {"forward", "backward"}
