"""Perspective correction for road nodes: a homography from image points to the ground, in metres.

A zone's ``ground`` calibration pairs four image points (normalised 0..1) with four points on the road
surface (metres, any local frame). The homography maps every image point of the zone onto the ground, so
queue lengths and stopped-vehicle radii are measured in true metres rather than as the camera frames them.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from vigil.core.errors import InputError

__all__ = ["Ground"]


def _quad(points: object, what: str) -> np.ndarray:
    try:
        arr = np.asarray(points, np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what}: four [x, y] points are needed") from None
    if arr.shape != (4, 2) or not np.all(np.isfinite(arr)):
        raise InputError(f"{what}: four [x, y] points are needed")
    scale = max(float(np.ptp(arr, axis=0).max()), 1e-12)
    for i, j in combinations(range(4), 2):
        if float(np.hypot(*(arr[i] - arr[j]))) <= 1e-6 * scale:
            raise InputError(f"{what}: the four points must be distinct")
    for i, j, k in combinations(range(4), 3):
        u, v = arr[j] - arr[i], arr[k] - arr[i]
        if abs(float(u[0] * v[1] - u[1] * v[0])) <= 1e-6 * scale * scale:
            raise InputError(f"{what}: three of the points lie on one line")
    return arr


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3x3 matrix H with dst ~ H @ [src, 1] (direct linear transform, exact for four pairs)."""
    rows = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.asarray(rows))
    h = vt[-1].reshape(3, 3)
    return h / h[2, 2] if abs(h[2, 2]) > 1e-12 else h


@dataclass(frozen=True, eq=False)
class Ground:
    """Image (normalised) to ground (metres) mapping of one zone; :meth:`metres` maps points."""

    image: np.ndarray
    ground: np.ndarray

    def __post_init__(self) -> None:
        img = _quad(self.image, "ground calibration image points")
        gnd = _quad(self.ground, "ground calibration ground points")
        h = _homography(img, gnd)
        if not np.all(np.isfinite(h)) or abs(float(np.linalg.det(h))) < 1e-12:
            raise InputError("ground calibration: the points do not define a perspective")
        w = np.c_[img, np.ones(4)] @ h[2]
        if not (np.all(w > 0) or np.all(w < 0)):
            raise InputError("ground calibration: the points put part of the image beyond the horizon "
                             "(list them in the same order on the image and on the ground)")
        object.__setattr__(self, "image", img)
        object.__setattr__(self, "ground", gnd)
        object.__setattr__(self, "_h", h)
        object.__setattr__(self, "_sign", 1.0 if w[0] > 0 else -1.0)

    def metres(self, points: np.ndarray) -> np.ndarray:
        """Ground positions (N, 2) in metres of image ``points`` (N, 2)."""
        p = np.asarray(points, np.float64).reshape(-1, 2)
        q = np.c_[p, np.ones(len(p))] @ self._h.T  # type: ignore[attr-defined]
        return q[:, :2] / q[:, 2:3]

    def check_covers(self, polygon: np.ndarray, what: str) -> None:
        """Refuse a polygon that reaches the horizon of the calibration (its ground image is not finite)."""
        w = np.c_[polygon, np.ones(len(polygon))] @ self._h[2] * self._sign  # type: ignore[attr-defined]
        if not np.all(w > 1e-9):
            raise InputError(f"{what}: the polygon reaches beyond the horizon of its ground calibration")
