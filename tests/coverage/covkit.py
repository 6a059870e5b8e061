"""Small builders for coverage tests: the real map extracts in the repository, GeoJSON features and files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import sparse

from vigil.coverage.milp import solve_milp
from vigil.demo.city import map_data_dir

REPO = Path(__file__).resolve().parents[2]
# Kunming ships inside the package (the demo needs it); Shanghai and Wuhan live in <repo>/data.
MAP_DIRS = (map_data_dir(), REPO / "data")


def mapdata(rel: str) -> Path:
    """A real map extract by its relative path; missing data fails the test, it never skips it."""
    for base in MAP_DIRS:
        if (base / rel).is_file():
            return base / rel
    raise FileNotFoundError(f"map extract {rel} is missing from {', '.join(map(str, MAP_DIRS))}")


def write_geojson(path: Path, features: list[dict], crs: str | None = None) -> Path:
    doc: dict = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc, ensure_ascii=False))
    return path


def poly(coords: list[tuple[float, float]], **props) -> dict:
    ring = [list(c) for c in coords] + [list(coords[0])]
    return {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def point(x: float, y: float, **props) -> dict:
    return {"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": [x, y]}}


def exact_cover_cost(b: sparse.csc_matrix, cost: np.ndarray, demand: np.ndarray) -> float:
    """The least cost of covering every row of ``b`` ``demand`` times, proven by the MILP."""
    res = solve_milp(b, cost, demand, np.ones(b.shape[0]), need=None, budget=None, target_mode=True,
                     time_limit=30, mip_gap=0.0)
    assert res.status == "optimal"
    return float(cost[res.x].sum())


def open_ground(seed: int, n: int = 40, m: int = 70) -> tuple[sparse.csc_matrix, np.ndarray]:
    """Targets seen by cameras that each see two or three of them (odd cycles everywhere), three prices."""
    rng = np.random.default_rng(seed)
    a = np.zeros((n, m), bool)
    for j in range(m):
        a[rng.choice(n, rng.integers(2, 4), replace=False), j] = True
    a[np.arange(n), rng.integers(0, m, n)] = True  # every target seen
    return sparse.csc_matrix(a), np.array([1100.0, 1800.0, 2600.0])[rng.integers(0, 3, m)]
