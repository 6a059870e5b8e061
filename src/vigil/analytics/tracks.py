"""Short-lived object tracks within ONE camera (IoU, then centroid matching).

Tracks exist only to tell dwell time and line crossings; they carry no identity, never leave
the camera and are forgotten a few seconds after the object is last seen.
Boxes are normalised (x1, y1, x2, y2 in 0..1); times are seconds on the stream clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vigil.analytics.detect import group
from vigil.core.errors import InputError

__all__ = ["Track", "Tracker", "anchor", "iou_matrix"]


def anchor(box: np.ndarray) -> np.ndarray:
    """The bottom-centre point of a box (where a person stands)."""
    return np.array([(box[0] + box[2]) / 2, box[3]], dtype=np.float64)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` (N, 4) and ``b`` (M, 4)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


@dataclass(slots=True)
class Track:
    """One object followed over a few seconds in one camera."""

    id: int
    label: str
    box: np.ndarray
    score: float
    first_seen: float
    last_seen: float
    hits: int = 1
    best_box: np.ndarray = field(default_factory=lambda: np.zeros(4))
    best_score: float = 0.0
    best_t: float = 0.0
    prev_anchor: np.ndarray | None = None
    first_box: np.ndarray | None = None

    @property
    def anchor(self) -> np.ndarray:
        return anchor(self.box)

    def moved(self, iou: float = 0.5) -> bool:
        """True once the box overlaps its first position by less than ``iou``."""
        first = self.box if self.first_box is None else self.first_box
        return bool(iou_matrix(first, self.box)[0, 0] < iou)

    def observe(self, box: np.ndarray, score: float, t: float) -> None:
        self.prev_anchor = self.anchor
        self.box, self.score, self.last_seen = box, score, t
        self.hits += 1
        if score >= self.best_score:
            self.best_box, self.best_score, self.best_t = box, score, t


class Tracker:
    """Greedy matcher per label group (:func:`group`); a track ends ``max_age_s`` after it was last matched.

    A track keeps the label it was first seen with.
    """

    def __init__(self, *, iou: float = 0.2, max_age_s: float = 2.0, max_jump: float = 1.5) -> None:
        self.iou = iou
        self.max_age_s = max_age_s
        self.max_jump = max_jump  # centroid fallback: distance in units of the track's box diagonal
        self.tracks: list[Track] = []
        self._next = 1

    def update(self, boxes: np.ndarray, scores: np.ndarray, labels: list[str], t: float) -> list[Track]:
        """Match detections at time ``t`` to tracks; return the tracks that ended (too old)."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        if len(scores) != len(boxes) or len(labels) != len(boxes):
            raise InputError(f"expected {len(boxes)} scores and labels, got {len(scores)} and {len(labels)}")
        free = set(range(len(boxes)))
        for g in sorted({group(lb) for lb in labels}):
            tracks = [tr for tr in self.tracks if group(tr.label) == g and tr.last_seen < t]
            dets = [i for i in sorted(free) if group(labels[i]) == g]
            for ti, di in self._match(tracks, boxes, dets):
                tracks[ti].observe(boxes[di], float(scores[di]), t)
                free.discard(di)
        for i in sorted(free):
            tr = Track(self._next, labels[i], boxes[i], float(scores[i]), t, t, best_box=boxes[i],
                       best_score=float(scores[i]), best_t=t, first_box=boxes[i])
            self._next += 1
            self.tracks.append(tr)
        return self.expire(t)

    def expire(self, t: float) -> list[Track]:
        """Drop and return the tracks not seen for ``max_age_s``."""
        ended = [tr for tr in self.tracks if t - tr.last_seen > self.max_age_s]
        self.tracks = [tr for tr in self.tracks if t - tr.last_seen <= self.max_age_s]
        return ended

    def flush(self) -> list[Track]:
        """End every track (the stream ended)."""
        ended, self.tracks = self.tracks, []
        return ended

    def _match(self, tracks: list[Track], boxes: np.ndarray, dets: list[int]) -> list[tuple[int, int]]:
        if not tracks or not dets:
            return []
        tb = np.array([tr.box for tr in tracks])
        db = boxes[dets]
        iou = iou_matrix(tb, db)
        tc = (tb[:, :2] + tb[:, 2:]) / 2
        dc = (db[:, :2] + db[:, 2:]) / 2
        diag = np.hypot(tb[:, 2] - tb[:, 0], tb[:, 3] - tb[:, 1])[:, None]
        dist = np.linalg.norm(tc[:, None, :] - dc[None, :, :], axis=2) / np.maximum(diag, 1e-6)
        # IoU first; pairs with no overlap may still match on a short centroid jump.
        cost = np.where(iou >= self.iou, 2.0 - iou, np.where(dist <= self.max_jump, 3.0 + dist, np.inf))
        pairs: list[tuple[int, int]] = []
        while np.isfinite(cost).any():
            ti, dj = np.unravel_index(np.argmin(cost), cost.shape)
            pairs.append((int(ti), dets[int(dj)]))
            cost[ti, :] = np.inf
            cost[:, dj] = np.inf
        return pairs
