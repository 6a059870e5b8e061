"""Property-based checks (hypothesis) for the geometry the planner relies on."""

import json

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.coverage.geo import load_buildings
from vigil.coverage.visibility import Obstacles, visible_mask

coord = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
boxes = st.lists(st.tuples(coord, coord, st.floats(1, 15), st.floats(1, 15)), min_size=1, max_size=6)


def _obstacles(spec):
    polys = np.array([shapely.box(x, y, x + w, y + h) for x, y, w, h in spec], dtype=object)
    return polys, Obstacles.build(polys, np.full(len(polys), 10.0))


@settings(max_examples=60, deadline=None)
@given(boxes, coord, coord, coord, coord)
def test_line_of_sight_is_symmetric_at_equal_heights(spec, ax, ay, bx, by):
    polys, obst = _obstacles(spec)
    union = shapely.union_all(polys)
    near = shapely.distance(union, shapely.points([ax, bx], [ay, by])) < 0.01  # the planner keeps points off walls
    if near.any() or shapely.contains_xy(union, [ax, bx], [ay, by]).any() or np.hypot(ax - bx, ay - by) < 1e-3:
        return
    seg = shapely.LineString([(ax, ay), (bx, by)])
    clear = seg.distance(union) > 1e-3
    through = seg.intersection(union).length > 1e-3
    if not (clear or through):
        return  # grazing a wall within floating-point tolerance: either answer is right
    ab = visible_mask(obst, ax, ay, 1.5, np.array([bx]), np.array([by]), target_h=1.5)[0]
    ba = visible_mask(obst, bx, by, 1.5, np.array([ax]), np.array([ay]), target_h=1.5)[0]
    assert ab == ba == clear  # symmetric, and the same answer as a plain shapely test


ring = st.lists(st.tuples(st.floats(0, 0.001), st.floats(0, 0.001)), min_size=3, max_size=8)


@settings(max_examples=40, deadline=None)
@given(st.lists(ring, min_size=1, max_size=4))
def test_any_footprint_soup_loads_valid_or_fails_clearly(tmp_path_factory, rings):
    feats = [{"type": "Feature", "properties": {"id": i},
              "geometry": {"type": "Polygon", "coordinates": [[[102.7 + x, 25.0 + y] for x, y in r + [r[0]]]]}}
             for i, r in enumerate(rings)]
    p = tmp_path_factory.mktemp("soup") / "soup.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    try:
        b, _ = load_buildings(p)
    except ValueError as exc:  # InputError is a ValueError
        assert "no usable building" in str(exc) or "not a readable" in str(exc)
        return
    assert all(q.is_valid and q.geom_type == "Polygon" and q.area >= 1.0 for q in b.polygons)
