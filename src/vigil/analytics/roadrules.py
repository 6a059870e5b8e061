"""Road-node rules without identities: stopped vehicles in a zone, and queue length in a lane.

Both work on one camera's short-lived tracks (no plate, no re-identification). They are driven by
:class:`vigil.analytics.zones.RuleEngine`, which owns their state and turns their answers into events.

* **Stopped**: a track whose box centre stays within ``radius`` (normalised) of where it settled for
  ``dwell_s`` seconds inside the zone. The event starts when it settled and ends when it moves off or
  disappears; a slow but steady mover leaves the radius and never fires.
* **Queue**: a lane zone has a stop line (its downstream end) and a real length in metres. Each
  slow vehicle (under ``slow_mps``) in the lane is an interval of distance from the stop line; the queue
  is the run of such intervals contiguous from the stop line (gaps up to ``gap_m``). Distance is linear
  along the lane's axis (perpendicular to the stop line). Without a calibration perspective is not
  corrected, so ``length_m`` is best read as "the lane as the camera frames it"; with a ``ground``
  calibration (:class:`vigil.analytics.ground.Ground`) points are mapped onto the road first and the
  distance is true metres on the ground (the lane's length is measured, ``length_m`` only caps it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from vigil.analytics.ground import Ground
from vigil.analytics.tracks import Track
from vigil.core.errors import InputError

__all__ = ["Lane", "MinuteMax", "QueueMinute", "QueueState", "SpeedMeter", "StopState", "queue_extent", "stop_step"]


@dataclass(frozen=True, eq=False)
class Lane:
    """A lane polygon measured from its stop line ``a``-``b``: :meth:`metres` of points along the lane.

    With ``ground``, distances are taken on the road surface (metres) and ``length_m`` becomes the
    measured length of the lane (capped by a given ``length_m``); without it they are scaled linearly.
    """

    polygon: np.ndarray
    a: np.ndarray
    b: np.ndarray
    length_m: float
    ground: Ground | None = None

    def __post_init__(self) -> None:
        if self.ground is None and not self.length_m > 0:
            raise InputError("a lane with a stop line needs length_m > 0 (or a ground calibration)")
        poly, a, b = self.polygon, self.a, self.b
        if self.ground is not None:
            self.ground.check_covers(poly, "the lane")
            poly, (a, b) = self.ground.metres(poly), self.ground.metres(np.array([a, b]))
        d = b - a
        n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-12)
        if float(np.dot(poly.mean(axis=0) - a, n)) < 0:
            n = -n  # point into the lane
        extent = float(np.max((poly - a) @ n))
        if extent <= 1e-6:
            raise InputError("the stop line must lie at one end of the lane polygon")
        if self.ground is not None:
            object.__setattr__(self, "length_m", min(extent, self.length_m) if self.length_m > 0 else extent)
        object.__setattr__(self, "_origin", a)
        object.__setattr__(self, "_axis", n)
        object.__setattr__(self, "_extent", extent)

    def metres(self, points: np.ndarray) -> np.ndarray:
        """Distance from the stop line, in metres, of ``points`` (N, 2), clipped to the lane."""
        p = np.asarray(points, np.float64).reshape(-1, 2)
        d = ((p if self.ground is None else self.ground.metres(p)) - self._origin) @ self._axis  # type: ignore[attr-defined]
        if self.ground is not None:
            return np.clip(d, 0.0, self.length_m)
        return np.clip(d / self._extent, 0.0, 1.0) * self.length_m  # type: ignore[attr-defined]

    def span(self, box: np.ndarray) -> tuple[float, float]:
        """The interval (near, far) of the lane, in metres, that a box covers."""
        x1, y1, x2, y2 = (float(v) for v in box)
        m = self.metres(np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]))
        return float(m.min()), float(m.max())


def queue_extent(spans: Iterable[tuple[float, float]], gap_m: float) -> tuple[float, int]:
    """Pure: the queue length (metres) and vehicle count of ``spans`` contiguous from 0 (gaps <= ``gap_m``)."""
    end, n = 0.0, 0
    for near, far in sorted(spans):
        if near > end + gap_m:
            break
        end, n = max(end, far), n + 1
    return (end if n else 0.0), n


@dataclass
class SpeedMeter:
    """Speeds of tracks along a lane (metres per second) over the last ``window_s`` seconds."""

    window_s: float = 2.0
    _hist: dict[int, deque[tuple[float, float]]] = field(default_factory=dict)

    def speed(self, track_id: int, t: float, pos_m: float) -> float | None:
        """Record ``pos_m`` at ``t``; the speed since the oldest sample in the window (None with one sample)."""
        h = self._hist.setdefault(track_id, deque())
        if not h or h[-1][0] < t:
            h.append((t, pos_m))
        while len(h) > 2 and t - h[1][0] >= self.window_s:
            h.popleft()
        (t0, p0), (t1, p1) = h[0], h[-1]
        return None if t1 <= t0 else abs(p1 - p0) / (t1 - t0)

    def forget(self, track_id: int) -> None:
        self._hist.pop(track_id, None)


@dataclass
class StopState:
    """Where and when a track settled in a zone."""

    since: float
    at: np.ndarray


def stop_step(state: StopState | None, centre: np.ndarray, t: float, radius: float) -> tuple[StopState, bool]:
    """Advance a track's stop state: the new state, and whether it moved off (True resets ``since``)."""
    if state is None:
        return StopState(t, centre), False
    if float(np.hypot(*(centre - state.at))) > radius:
        return StopState(t, centre), True
    return state, False


@dataclass
class QueueState:
    """Per-lane debounce: the last measure, and since when it has been above (or below) the threshold."""

    metres: float = 0.0
    vehicles: int = 0
    above_since: float | None = None
    below_since: float | None = None
    peak: float = 0.0
    tracks: list[Track] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class QueueMinute:
    """The longest queue of one lane zone of one camera in the minute starting at ``minute``."""

    camera: str
    zone: str
    minute: datetime
    max_m: float
    vehicles: int


@dataclass
class MinuteMax:
    """Folds queue measurements into per-minute maxima; :meth:`add` returns the minutes it closed."""

    camera: str
    _cur: dict[str, QueueMinute] = field(default_factory=dict)

    def add(self, zone: str, at: datetime, metres: float, vehicles: int) -> list[QueueMinute]:
        """Take one measurement of ``zone`` at ``at``; the zone's previous minute if this one is newer."""
        minute = at.replace(second=0, microsecond=0)
        cur = self._cur.get(zone)
        if cur is not None and cur.minute == minute:
            self._cur[zone] = QueueMinute(self.camera, zone, minute, max(cur.max_m, metres),
                                          max(cur.vehicles, vehicles))
            return []
        self._cur[zone] = QueueMinute(self.camera, zone, minute, metres, vehicles)
        return [cur] if cur is not None and cur.minute < minute else []

    def flush(self) -> list[QueueMinute]:
        """The minutes still open (the stream ended)."""
        out, self._cur = sorted(self._cur.values(), key=lambda q: q.zone), {}
        return out
