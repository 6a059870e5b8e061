"""Zones and lines with rules: intrusion, loitering, line crossing, stopped vehicle and queue length.

The road-node rules (stopped, queue) are in :mod:`vigil.analytics.roadrules`.

Pure value objects, checked once when built (in the style of supervision's ``PolygonZone``):
coordinates are normalised (0..1, origin top-left). :class:`RuleEngine` turns per-camera tracks
into :class:`ZoneEvent` s and keeps line-crossing counts; it does no I/O.
A zones file (YAML or JSON) is read with :func:`load_zones`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from shapely.geometry import Polygon as ShapelyPolygon

from vigil.analytics.detect import DEFAULT_LABELS
from vigil.analytics.ground import Ground
from vigil.analytics.roadrules import Lane, QueueState, SpeedMeter, StopState, queue_extent, stop_step
from vigil.analytics.tracks import Track
from vigil.core.errors import InputError

__all__ = ["Line", "RuleEngine", "ZoneEvent", "ZoneRule", "ZoneSet", "Zone", "load_zones", "parse_zones"]

RuleType = Literal["intrusion", "loitering", "line_crossing", "stopped", "queue"]
VEHICLE_LABELS = frozenset({"car", "truck", "bus", "motorcycle"})


def _points(points: ArrayLike, n_min: int, what: str) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < n_min:
        raise InputError(f"{what}: expected shape (n>={n_min}, 2), got {arr.shape}")
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise InputError(f"{what}: coordinates must be normalised to 0..1")
    return arr


@dataclass(frozen=True, eq=False)
class Zone:
    """A named polygon; :meth:`contains` tells which points lie inside (even-odd rule).

    A lane zone also has a ``stop_line`` (two points at its downstream end) and its ``length_m``.
    ``ground`` (optional) maps the zone's image points onto the road in metres (perspective correction).
    """

    name: str
    polygon: np.ndarray
    stop_line: np.ndarray | None = None
    length_m: float = 0.0
    ground: Ground | None = None
    lane: Lane | None = field(default=None, init=False, repr=False, compare=False)  # set from stop_line

    def __post_init__(self) -> None:
        if not self.name:
            raise InputError("a zone needs a name")
        poly = _points(self.polygon, 3, f"zone {self.name!r}")
        if not ShapelyPolygon(poly).is_valid or ShapelyPolygon(poly).area <= 0:
            raise InputError(f"zone {self.name!r}: the polygon crosses itself or has no area")
        object.__setattr__(self, "polygon", poly)
        if self.ground is not None:
            try:
                self.ground.check_covers(poly, "the zone")
            except InputError as exc:
                raise InputError(f"zone {self.name!r}: {exc}") from None
        lane = None
        if self.stop_line is not None:
            ab = _points(self.stop_line, 2, f"zone {self.name!r} stop_line")
            if len(ab) != 2 or np.allclose(ab[0], ab[1]):
                raise InputError(f"zone {self.name!r}: the stop line needs two different points")
            try:
                lane = Lane(poly, ab[0], ab[1], float(self.length_m), self.ground)
            except InputError as exc:
                raise InputError(f"zone {self.name!r}: {exc}") from None
        object.__setattr__(self, "lane", lane)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Boolean mask over ``points`` (N, 2): True inside the polygon."""
        p = np.asarray(points, np.float64).reshape(-1, 2)
        x, y = p[:, 0:1], p[:, 1:2]
        a, b = self.polygon, np.roll(self.polygon, -1, axis=0)
        straddle = (a[None, :, 1] > y) != (b[None, :, 1] > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xcross = a[None, :, 0] + (y - a[None, :, 1]) * (b[None, :, 0] - a[None, :, 0]) / (
                b[None, :, 1] - a[None, :, 1])
        return ((straddle & (x < xcross)).sum(axis=1) % 2) == 1


@dataclass(frozen=True, eq=False)
class Line:
    """A tripwire from ``a`` to ``b``. "forward" is the direction of b - a turned 90 degrees clockwise on screen."""

    name: str
    a: np.ndarray
    b: np.ndarray

    def __post_init__(self) -> None:
        pts = _points([self.a, self.b], 2, f"line {self.name!r}")
        if np.allclose(pts[0], pts[1]):
            raise InputError(f"line {self.name!r}: its two points are the same")
        object.__setattr__(self, "a", pts[0])
        object.__setattr__(self, "b", pts[1])

    def side(self, p: np.ndarray) -> float:
        d = self.b - self.a
        return float(d[0] * (p[1] - self.a[1]) - d[1] * (p[0] - self.a[0]))

    def crossing(self, p0: np.ndarray, p1: np.ndarray) -> Literal["forward", "backward"] | None:
        """The direction in which the move p0 -> p1 crosses the segment, or None."""
        s0, s1 = self.side(p0), self.side(p1)
        if s0 == s1 or (s0 <= 0 and s1 <= 0) or (s0 >= 0 and s1 >= 0):
            return None
        # p0 -> p1 straddles the infinite line; check it meets the segment itself. The test is the same for
        # the move and its reverse, so both are computed from the same end (rounding of a move that just
        # touches an end of the line would otherwise let one direction count and the other not).
        u, w = (p0, p1) if (p0[0], p0[1]) <= (p1[0], p1[1]) else (p1, p0)
        m = w - u
        q0, q1 = (m[0] * (q[1] - u[1]) - m[1] * (q[0] - u[0]) for q in (self.a, self.b))
        if (q0 > 0 and q1 > 0) or (q0 < 0 and q1 < 0):
            return None
        return "forward" if s0 < 0 < s1 else "backward"


@dataclass(frozen=True)
class ZoneRule:
    """A rule on a zone (intrusion, loitering, stopped, queue) or a line (line_crossing), for some labels.

    ``stopped``: still within ``radius`` (normalised) for ``dwell_s``, or within ``radius_m`` metres on the
    ground when the zone has a ground calibration. ``queue``: at least ``threshold_m``
    of queue, of vehicles slower than ``slow_mps`` with gaps up to ``gap_m``, for ``hold_s`` (and clears
    after ``hold_s`` below it).
    """

    type: RuleType
    target: str  # zone or line name
    labels: frozenset[str] = frozenset(DEFAULT_LABELS)
    dwell_s: float = 0.0
    radius: float = 0.02
    radius_m: float | None = None
    threshold_m: float = 0.0
    hold_s: float = 0.0
    slow_mps: float = 1.5
    gap_m: float = 8.0

    def __post_init__(self) -> None:
        if self.type in ("loitering", "stopped") and self.dwell_s <= 0:
            raise InputError(f"{self.type} rule on {self.target!r}: dwell_s must be > 0")
        if self.type == "stopped" and not 0 < self.radius < 1:
            raise InputError(f"stopped rule on {self.target!r}: radius must be between 0 and 1")
        if self.radius_m is not None and (self.type != "stopped" or not self.radius_m > 0):
            raise InputError(f"rule on {self.target!r}: radius_m (> 0) is for stopped rules only")
        if self.type == "queue" and (self.threshold_m <= 0 or self.hold_s < 0 or self.slow_mps <= 0 or self.gap_m < 0):
            raise InputError(f"queue rule on {self.target!r}: threshold_m and slow_mps must be > 0, "
                             "hold_s and gap_m >= 0")
        unknown = set(self.labels) - set(DEFAULT_LABELS)
        if unknown:
            raise InputError(f"rule on {self.target!r}: unknown labels {sorted(unknown)}")


@dataclass(frozen=True)
class ZoneSet:
    """Zones, lines, privacy masks and rules for one camera."""

    zones: tuple[Zone, ...] = ()
    lines: tuple[Line, ...] = ()
    rules: tuple[ZoneRule, ...] = ()
    masks: tuple[tuple[tuple[float, float], ...], ...] = ()

    def __post_init__(self) -> None:
        names = [z.name for z in self.zones] + [ln.name for ln in self.lines]
        if len(set(names)) != len(names):
            raise InputError("zone and line names must be unique")
        zones, lines = {z.name for z in self.zones}, {ln.name for ln in self.lines}
        for r in self.rules:
            if r.target not in (lines if r.type == "line_crossing" else zones):
                kind = "line" if r.type == "line_crossing" else "zone"
                raise InputError(f"{r.type} rule: no {kind} named {r.target!r}")
            if r.type == "queue" and next(z for z in self.zones if z.name == r.target).lane is None:
                raise InputError(f"queue rule on {r.target!r}: the zone needs a stop_line and length_m")
            if r.radius_m is not None and next(z for z in self.zones if z.name == r.target).ground is None:
                raise InputError(f"stopped rule on {r.target!r}: radius_m needs a ground calibration on the zone")


@dataclass(frozen=True)
class ZoneEvent:
    """A rule firing for one track. ``end`` is None while it lasts; crossings have start == end."""

    type: RuleType
    zone: str
    track_id: int
    label: str
    start: float
    end: float | None
    box: tuple[float, float, float, float]
    score: float
    direction: str | None = None
    value: float | None = None  # queue: the longest queue (metres) so far; stopped: None


@dataclass
class RuleEngine:
    """Evaluate the rules of a :class:`ZoneSet` over tracks, frame after frame."""

    zoneset: ZoneSet
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    _inside_since: dict[tuple[str, int], float] = field(default_factory=dict)
    _open: dict[tuple[int, int], ZoneEvent] = field(default_factory=dict)
    _stops: dict[tuple[int, int], StopState] = field(default_factory=dict)
    _speeds: SpeedMeter = field(default_factory=SpeedMeter)
    queues: dict[str, QueueState] = field(default_factory=dict)  # lane zone -> its current queue

    def __post_init__(self) -> None:
        self._zones = {z.name: z for z in self.zoneset.zones}
        self._lines = {ln.name: ln for ln in self.zoneset.lines}
        self.counts = {ln.name: {"forward": 0, "backward": 0} for ln in self.zoneset.lines}

    def update(self, tracks: Iterable[Track], t: float, *, ended: Iterable[Track] = ()) -> list[ZoneEvent]:
        """Events opened, closed or fired at ``t`` by the current ``tracks`` (and the ``ended`` ones).

        A call without ``ended`` is a measurement: ``tracks`` are all the objects seen at ``t``, so queue
        lengths are measured from them. A call with ``ended`` only closes what those tracks held.
        """
        out: list[ZoneEvent] = []
        ended = list(ended)
        for tr in ended:
            out += self._close_track(tr.id, tr.last_seen)
        seen = [tr for tr in tracks if tr.last_seen == t]  # others were not observed: keep their state
        for tr in seen:
            out += self._zones_for(tr, t)
            out += self._lines_for(tr, t)
        if not ended:
            out += self._queues(seen, t)
        return out

    def close_all(self, t: float) -> list[ZoneEvent]:
        ids = {tid for _, tid in self._open}
        return [e for tid in sorted(ids) for e in self._close_track(tid, t)]

    def _close_track(self, track_id: int, t: float) -> list[ZoneEvent]:
        out = []
        for key in [k for k in self._open if k[1] == track_id]:
            ev = self._open.pop(key)
            out.append(_replace_end(ev, t))
        for zone_key in [k for k in self._inside_since if k[1] == track_id]:
            del self._inside_since[zone_key]
        for stop_key in [k for k in self._stops if k[1] == track_id]:
            del self._stops[stop_key]
        self._speeds.forget(track_id)
        return out

    def _zones_for(self, tr: Track, t: float) -> list[ZoneEvent]:
        out = []
        box = tuple(float(v) for v in tr.box)
        for i, r in enumerate(self.zoneset.rules):
            if r.type in ("line_crossing", "queue") or tr.label not in r.labels:
                continue
            if r.type == "stopped":
                out += self._stopped(i, r, tr, t)
                continue
            inside = bool(self._zones[r.target].contains(tr.anchor)[0])
            key, skey = (i, tr.id), (r.target, tr.id)
            if not inside:
                self._inside_since.pop(skey, None)
                if key in self._open:
                    out.append(_replace_end(self._open.pop(key), t))
                continue
            since = self._inside_since.setdefault(skey, t)
            if key in self._open:
                continue
            if r.type == "intrusion" or t - since >= r.dwell_s:
                start = t if r.type == "intrusion" else since
                ev = ZoneEvent(r.type, r.target, tr.id, tr.label, start, None, box, tr.score)  # type: ignore[arg-type]
                self._open[key] = ev
                out.append(ev)
        return out

    def _stopped(self, i: int, r: ZoneRule, tr: Track, t: float) -> list[ZoneEvent]:
        key = (i, tr.id)
        box = tuple(float(v) for v in tr.box)
        centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        zone = self._zones[r.target]
        if not bool(zone.contains(centre)[0]):
            self._stops.pop(key, None)
            return [_replace_end(self._open.pop(key), t)] if key in self._open else []
        if r.radius_m is not None and zone.ground is not None:
            state, moved = stop_step(self._stops.get(key), zone.ground.metres(centre)[0], t, r.radius_m)
        else:
            state, moved = stop_step(self._stops.get(key), centre, t, r.radius)
        self._stops[key] = state
        if moved and key in self._open:
            return [_replace_end(self._open.pop(key), t)]
        if key in self._open or t - state.since < r.dwell_s:
            return []
        ev = ZoneEvent("stopped", r.target, tr.id, tr.label, state.since, None, box, tr.score)  # type: ignore[arg-type]
        self._open[key] = ev
        return [ev]

    def _queues(self, seen: list[Track], t: float) -> list[ZoneEvent]:
        out = []
        for i, r in enumerate(self.zoneset.rules):
            if r.type != "queue":
                continue
            zone = self._zones[r.target]
            lane = zone.lane
            assert lane is not None  # ZoneSet refuses a queue rule on a zone without a lane
            slow = []
            for tr in seen:
                if tr.label not in r.labels or not bool(zone.contains(tr.anchor)[0]):
                    continue
                v = self._speeds.speed(tr.id, t, float(lane.metres(tr.anchor)[0]))
                if v is not None and v <= r.slow_mps:
                    slow.append(tr)
            metres, n = queue_extent([lane.span(tr.box) for tr in slow], r.gap_m)
            st = self.queues.setdefault(r.target, QueueState())
            st.metres, st.vehicles = metres, n
            out += self._queue_step(i, r, st, [tr for tr in slow if lane.span(tr.box)[0] <= metres], t)
        return out

    def _queue_step(self, i: int, r: ZoneRule, st: QueueState, queued: list[Track], t: float) -> list[ZoneEvent]:
        key = (i, 0)  # zone-level: track ids start at 1
        if st.metres >= r.threshold_m:
            st.below_since = None
            st.above_since = t if st.above_since is None else st.above_since
            if key in self._open:
                st.peak = max(st.peak, st.metres)
                return []
            if t - st.above_since < r.hold_s:
                return []
            boxes = np.array([tr.box for tr in queued]).reshape(-1, 4)
            box = (float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()),
                   float(boxes[:, 3].max())) if len(boxes) else (0.0, 0.0, 1.0, 1.0)
            st.peak = st.metres
            score = float(np.mean([tr.score for tr in queued])) if queued else 0.0
            ev = ZoneEvent("queue", r.target, 0, "vehicle", st.above_since, None, box, score, value=st.metres)
            self._open[key] = ev
            return [ev]
        st.above_since = None
        if key not in self._open:
            return []
        st.below_since = t if st.below_since is None else st.below_since
        if t - st.below_since < r.hold_s:
            return []
        ev = self._open.pop(key)
        return [_replace_end(ev, t, value=st.peak)]

    def _lines_for(self, tr: Track, t: float) -> list[ZoneEvent]:
        if tr.prev_anchor is None:
            return []
        out = []
        for r in self.zoneset.rules:
            if r.type != "line_crossing" or tr.label not in r.labels:
                continue
            direction = self._lines[r.target].crossing(tr.prev_anchor, tr.anchor)
            if direction:
                self.counts[r.target][direction] += 1
                out.append(ZoneEvent("line_crossing", r.target, tr.id, tr.label, t, t,
                                     tuple(float(v) for v in tr.box), tr.score, direction))  # type: ignore[arg-type]
        return out


def _replace_end(ev: ZoneEvent, t: float, **changes: object) -> ZoneEvent:
    return replace(ev, end=t, **changes)  # type: ignore[arg-type]


# ---- zones file -------------------------------------------------------------------------------------


class _RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["intrusion", "loitering", "stopped", "queue"]
    labels: list[str] | None = Field(None, description="Default: every label; vehicles for stopped and queue")
    dwell_s: float = Field(0.0, ge=0, description="Loitering, stopped: seconds before the rule fires")
    radius: float = Field(0.02, gt=0, lt=1, description="Stopped: how far (normalised) the centre may wander")
    radius_m: float | None = Field(None, gt=0, description="Stopped: how far (metres on the ground) the centre "
                                   "may wander; needs the zone's ground calibration")
    threshold_m: float = Field(0.0, ge=0, description="Queue: metres of queue that raise the alert")
    hold_s: float = Field(0.0, ge=0, description="Queue: seconds above (or below) the threshold to raise (clear)")
    slow_mps: float = Field(1.5, gt=0, description="Queue: vehicles slower than this (m/s) are queued")
    gap_m: float = Field(8.0, ge=0, description="Queue: largest gap between queued vehicles")


class _GroundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: list[tuple[float, float]] = Field(description="Four image points (normalised 0..1)")
    metres: list[tuple[float, float]] = Field(description="The same four points on the road, in metres")


class _ZoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    polygon: list[tuple[float, float]]
    stop_line: tuple[tuple[float, float], tuple[float, float]] | None = Field(
        None, description="Lane zones: the two ends of the stop line (the lane's downstream end)")
    length_m: float = Field(0.0, ge=0, description="Lane zones: the lane's length in metres from the stop line")
    ground: _GroundIn | None = Field(None, description="Perspective correction: four image points and where "
                                     "they lie on the road, in metres")
    rules: list[_RuleIn] = Field(default_factory=list)


class _LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    points: tuple[tuple[float, float], tuple[float, float]]
    labels: list[str] = Field(default_factory=lambda: list(DEFAULT_LABELS))


class _FileIn(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Vigil zones file")
    zones: list[_ZoneIn] = Field(default_factory=list)
    lines: list[_LineIn] = Field(default_factory=list)
    masks: list[list[tuple[float, float]]] = Field(default_factory=list, description="Privacy mask polygons")


def _rule(zone: str, r: _RuleIn) -> ZoneRule:
    road = r.type in ("stopped", "queue")
    labels = r.labels if r.labels is not None else [x for x in DEFAULT_LABELS if not road or x in VEHICLE_LABELS]
    return ZoneRule(r.type, zone, frozenset(labels), r.dwell_s, radius=r.radius, radius_m=r.radius_m,
                    threshold_m=r.threshold_m,
                    hold_s=r.hold_s, slow_mps=r.slow_mps, gap_m=r.gap_m)


def _ground(z: _ZoneIn) -> Ground | None:
    if z.ground is None:
        return None
    try:
        return Ground(np.asarray(z.ground.image), np.asarray(z.ground.metres))
    except InputError as exc:
        raise InputError(f"zone {z.name!r}: {exc}") from None


def parse_zones(data: object) -> ZoneSet:
    """Build a :class:`ZoneSet` from a parsed zones document (dict)."""
    try:
        doc = _FileIn.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"zones file: {where}: {first['msg']}") from None
    zones = tuple(Zone(z.name, np.asarray(z.polygon), None if z.stop_line is None else np.asarray(z.stop_line),
                       z.length_m, _ground(z)) for z in doc.zones)
    lines = tuple(Line(ln.name, np.asarray(ln.points[0]), np.asarray(ln.points[1])) for ln in doc.lines)
    rules = [_rule(z.name, r) for z in doc.zones for r in z.rules]
    rules += [ZoneRule("line_crossing", ln.name, frozenset(ln.labels)) for ln in doc.lines]
    masks = tuple(tuple((float(x), float(y)) for x, y in _points(m, 3, "mask")) for m in doc.masks)
    return ZoneSet(zones, lines, tuple(rules), masks)


def load_zones(path: str | Path) -> ZoneSet:
    """Read a zones file (YAML or JSON)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise InputError(f"cannot read zones file {p}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"zones file {p} is not valid YAML/JSON: {exc}") from None
    return parse_zones(data)
