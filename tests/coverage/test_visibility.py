"""Analytic visibility cases: a 10 x 10 m room with a 2 x 2 m pillar."""

import numpy as np
import pytest
import shapely

from vigil.coverage.visibility import Obstacles, fov_wedge, visibility_polygon, visible_mask

ROOM = shapely.box(-1, -1, 11, 11).difference(shapely.box(0, 0, 10, 10))  # walls around a 10 x 10 room
PILLAR = shapely.box(4, 4, 6, 6)


def _shadow_area(vx: float) -> float:
    """Exact area hidden by the pillar from (vx, 5), vx < 4: silhouette corners (4, 4) and (4, 6).

    The shadow's half-width grows as 1 + s (x - 4) with s = 1 / (4 - vx) until the room's walls (5) clip it.
    """
    s = 1 / (4 - vx)
    x_cap = min(4 + 4 / s, 10.0)
    wedge = 2 * ((x_cap - 4) + s * (x_cap - 4) ** 2 / 2)
    return wedge + 10 * (10 - x_cap) - 4


@pytest.mark.parametrize(("vx", "visible"), [(1.0, 76.0), (2.0, 70.0), (3.0, 56.0), (3.5, 48.0)])
def test_room_with_pillar_exact_area(vx, visible):
    vis = visibility_polygon(vx, 5.0, [ROOM, PILLAR], reach=50)
    expected = 100 - 4 - _shadow_area(vx)
    assert vis.area == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(visible)
    assert vis.within(shapely.box(0, 0, 10, 10).buffer(1e-6))


def test_room_from_a_corner_sees_all_but_one_shadow():
    vis = visibility_polygon(0.5, 0.5, [ROOM, PILLAR], reach=50)
    # from (0.5, 0.5) the silhouette corners are (4,6) and (6,4); the shadow reaches the far corner region
    assert vis.area < 96
    assert not vis.contains(shapely.Point(9.5, 9.5))
    assert vis.contains(shapely.Point(9.5, 0.7)) and vis.contains(shapely.Point(0.7, 9.5))


def test_point_visibility_agrees_with_exact_polygon():
    """The planner's per-target test against the exact polygon: the measured error is zero off the boundary."""
    obst = Obstacles.build(np.array([ROOM, PILLAR], dtype=object), np.array([10.0, 10.0]))
    xs, ys = np.meshgrid(np.arange(0.05, 10, 0.1), np.arange(0.05, 10, 0.1))
    tx, ty = xs.ravel(), ys.ravel()
    inside = ~shapely.contains_xy(PILLAR, tx, ty)
    tx, ty = tx[inside], ty[inside]
    vis = visibility_polygon(2.0, 5.0, [ROOM, PILLAR], reach=50)
    exact = shapely.contains_xy(vis.buffer(1e-9), tx, ty)
    got = visible_mask(obst, 2.0, 5.0, 1.5, tx, ty, target_h=1.5)
    near_edge = shapely.distance(vis.boundary, shapely.points(tx, ty)) < 1e-6
    assert np.array_equal(got[~near_edge], exact[~near_edge])
    # the grid-cell area estimate converges on the exact area
    assert got.sum() * 0.01 == pytest.approx(vis.area, rel=0.01)


def test_high_camera_sees_over_low_building():
    low = shapely.box(10, -2, 12, 2)
    obst = Obstacles.build(np.array([low], dtype=object), np.array([3.0]))
    tx, ty = np.array([30.0, 13.0]), np.array([0.0, 0.0])
    # from a 20 m roof the line of sight to a target 30 m away passes 3 m over the wall at x=10 (h=13.2)
    assert visible_mask(obst, 0, 0, 20.0, tx, ty, target_h=1.5).tolist() == [True, False]
    # from 4 m the low building blocks both
    assert visible_mask(obst, 0, 0, 4.0, tx, ty, target_h=1.5).tolist() == [False, False]


def test_fov_wedge_heading_north_clockwise():
    w = fov_wedge(0, 0, 90.0, 90.0, 10.0, 2.0)  # looking east
    assert w.contains(shapely.Point(5, 0)) and not w.contains(shapely.Point(-5, 0))
    assert not w.contains(shapely.Point(1, 0))  # dead zone
    full = np.pi * 100 / 4 - np.pi * 4 / 4
    assert w.area == pytest.approx(full, rel=0.01)
