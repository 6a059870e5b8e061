"""Perspective correction of road nodes: a ground homography on a known camera, queues and stops in metres."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from factories import TOWN1, build_world
from vigil.access.guard import Scope
from vigil.analytics.ground import Ground
from vigil.analytics.roadrules import Lane, queue_extent
from vigil.analytics.settings import get_setting
from vigil.analytics.tracks import Track
from vigil.analytics.zones import RuleEngine, parse_zones
from vigil.api.app import create_app
from vigil.core.errors import InputError

HEIGHT, PITCH, FOCAL = 6.0, np.radians(20.0), 0.8  # a pole camera 6 m up, looking 20 degrees down the road


def project(ground: np.ndarray) -> np.ndarray:
    """Pinhole projection of road points (X across, Y along, metres) to normalised image points."""
    g = np.asarray(ground, np.float64).reshape(-1, 2)
    v = np.c_[g, np.full(len(g), -HEIGHT)]
    fwd, down = np.array([0, np.cos(PITCH), -np.sin(PITCH)]), np.array([0, -np.sin(PITCH), -np.cos(PITCH)])
    z = v @ fwd
    return np.c_[0.5 + FOCAL * v[:, 0] / z, 0.5 + FOCAL * (v @ down) / z]


# Calibration markers: four corners of a painted checkerboard on the road, 1.5 m either side, 15 and 40 m out.
MARKS = np.array([[-1.5, 15.0], [1.5, 15.0], [1.5, 40.0], [-1.5, 40.0]])
# The lane: 3.5 m wide, from the stop line 10 m out to 70 m out.
LANE_G = np.array([[-1.75, 10.0], [1.75, 10.0], [1.75, 70.0], [-1.75, 70.0]])


def _doc(**rule: object) -> dict:
    return {"zones": [{"name": "north approach", "polygon": project(LANE_G).tolist(),
                       "stop_line": project(LANE_G[:2]).tolist(),
                       "ground": {"image": project(MARKS).tolist(), "metres": MARKS.tolist()},
                       "rules": [rule]}]}


def _car_box(near_m: float, across: float = 0.0, length: float = 4.5) -> np.ndarray:
    """The image box of a car's footprint (1.8 m wide) from ``near_m`` to ``near_m + length`` out."""
    corners = project(np.array([[across - 0.9, near_m], [across + 0.9, near_m],
                                [across + 0.9, near_m + length], [across - 0.9, near_m + length]]))
    return np.r_[corners.min(axis=0), corners.max(axis=0)]


def _track(tid: int, box: np.ndarray, t: float) -> Track:
    return Track(tid, "car", box, 0.8, 0.0, t, hits=3, best_box=box, best_score=0.8, first_box=box)


def test_the_homography_maps_a_checkerboard_back_to_its_metres():
    g = Ground(project(MARKS), MARKS)
    xs, ys = np.meshgrid([-1.5, -0.5, 0.5, 1.5], np.arange(10.0, 72.0, 4.0))
    board = np.c_[xs.ravel(), ys.ravel()]
    assert np.abs(g.metres(project(board)) - board).max() < 1e-6
    # foreshortening is real: 4 m of road near the camera spans several times the picture of 4 m far away
    rows = project(np.array([[0, 10.0], [0, 14.0], [0, 66.0], [0, 70.0]]))[:, 1]
    assert (rows[0] - rows[1]) > 5 * (rows[2] - rows[3])


def test_a_queue_along_a_foreshortened_lane_is_measured_in_true_metres():
    zs = parse_zones(_doc(type="queue", threshold_m=30, gap_m=2.0))
    lane = zs.zones[0].lane
    assert lane.length_m == pytest.approx(60.0)
    cars = [_car_box(10.5 + 6.0 * k) for k in range(6)]  # six cars 1.5 m apart, 0.5 m behind the stop line
    metres, n = queue_extent([lane.span(b) for b in cars], 2.0)
    assert n == 6 and metres == pytest.approx(35.0, abs=1e-6)
    flat = Lane(project(LANE_G), *project(LANE_G[:2]), 60.0)  # the same lane without the calibration
    assert abs(queue_extent([flat.span(b) for b in cars], 2.0)[0] - 35.0) > 10
    eng = RuleEngine(zs)
    eng.update([_track(i + 1, b, 0.0) for i, b in enumerate(cars)], 0.0)
    fired = eng.update([_track(i + 1, b, 1.0) for i, b in enumerate(cars)], 1.0)
    assert [(e.type, round(e.value, 3)) for e in fired] == [("queue", 35.0)]


def _stops(doc: dict, near_m: float, drift_m: float) -> list:
    eng, fired = RuleEngine(parse_zones(doc)), []
    for t in range(41):  # 40 s, creeping drift_m metres down the lane in all
        fired += eng.update([_track(1, _car_box(near_m + drift_m * t / 40), float(t))], float(t))
    return fired


def test_the_stopped_radius_is_in_metres_on_the_ground():
    metres = _doc(type="stopped", dwell_s=30, radius_m=2.0)
    image = _doc(type="stopped", dwell_s=30, radius=0.02)
    # far out, creeping 8 m in 40 s: a few pixels, so the image radius calls it stopped; the ground radius does not
    assert [e.type for e in _stops(image, 54.0, 8.0)] == ["stopped"]
    assert _stops(metres, 54.0, 8.0) == []
    # near the stop line, really stopped with 0.5 m of jitter: both fire
    assert [e.type for e in _stops(metres, 12.0, 0.5)] == ["stopped"]


@pytest.mark.parametrize(("image", "metres", "says"), [
    ([[0.1, 0.9], [0.9, 0.9], [0.6, 0.3]], [[0, 0], [3, 0], [3, 30]], "four .x, y. points"),
    ([[0.1, 0.9], [0.9, 0.9], [0.9, 0.9], [0.4, 0.3]], [[0, 0], [3, 0], [3, 30], [0, 30]], "distinct"),
    ([[0.1, 0.9], [0.5, 0.9], [0.9, 0.9], [0.4, 0.3]], [[0, 0], [3, 0], [3, 30], [0, 30]], "on one line"),
    ([[0.1, 0.9], [0.9, 0.9], [0.6, 0.3], [0.4, 0.3]], [[0, 0], [3, 0], [0, 30], [3, 30]], "horizon"),
])
def test_a_degenerate_calibration_is_refused_clearly(image, metres, says):
    doc = _doc(type="queue", threshold_m=30)
    doc["zones"][0]["ground"] = {"image": image, "metres": metres}
    with pytest.raises(InputError, match=says) as exc:
        parse_zones(doc)
    assert "north approach" in str(exc.value)


def test_radius_m_needs_a_calibration_and_the_lane_must_stay_below_the_horizon():
    doc = _doc(type="stopped", dwell_s=30, radius_m=2.0)
    del doc["zones"][0]["ground"]
    doc["zones"][0]["length_m"] = 60.0
    with pytest.raises(InputError, match="radius_m needs a ground calibration"):
        parse_zones(doc)
    doc = _doc(type="queue", threshold_m=30)
    doc["zones"][0]["polygon"] = [[0.4, 0.9], [0.6, 0.9], [0.6, 0.05], [0.4, 0.05]]  # above the horizon (v~0.21)
    with pytest.raises(InputError, match="beyond the horizon"):
        parse_zones(doc)


def test_the_calibration_is_stored_with_the_camera_zones_and_a_bad_one_is_a_clear_error(sqlite_vigil):
    w = build_world(sqlite_vigil)
    client = TestClient(create_app(sqlite_vigil))
    url = f"/api/v1/analytics/cameras/{w.cameras[TOWN1]}"
    officer = {"Authorization": f"Bearer {w.tokens[f'duty_officer-{TOWN1}']}"}
    doc = _doc(type="queue", threshold_m=30)
    assert client.put(url, json={"enabled": True, "zones": doc}, headers=officer).status_code == 200
    with sqlite_vigil.db.session() as s:
        stored = get_setting(s, w.cameras[TOWN1], Scope.everything()).zones
    assert parse_zones(stored).zones[0].lane.length_m == pytest.approx(60.0)
    doc["zones"][0]["ground"]["metres"][3] = doc["zones"][0]["ground"]["metres"][2]
    bad = client.put(url, json={"enabled": True, "zones": doc}, headers=officer)
    assert bad.status_code in (400, 422) and "must be distinct" in bad.text and "Traceback" not in bad.text
