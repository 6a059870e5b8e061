"""Health KPIs: online rate, integrity rate, coverage rate and repair time, per region and period.

The arithmetic lives in pure functions over numpy arrays (:func:`true_time`,
:func:`and_series`, :func:`rollup`, :func:`percentiles`); :func:`compute_kpis` loads
what it needs with a handful of queries and rolls the figures up the region tree
(codes nest by prefix).

Definitions and choices (the city is judged on these; see docs/health-kpis-and-maintenance.md):

* **Population.** The cameras whose lifecycle is ``in_service`` now, over the whole
  period (lifecycle history is not kept).
* **Online rate.** Time-weighted: the seconds each camera was ``online`` over the
  period, summed over cameras, divided by cameras × period length. A camera's state
  at the period start is its last :class:`StatusChange` before the start; a camera
  with no change before a moment is ``unknown`` then, and unknown counts as not
  online. ``online_now`` is the share of cameras whose current
  :class:`CameraStatus` is ``online``.
* **Integrity rate.** Time-weighted share of intact camera-time: online *and* with
  no confirmed picture fault (the fault set of the last :class:`QualityChange`;
  before any diagnosis a camera has no known fault). Offline is never intact.
* **Coverage rate.** From the newest :class:`SiteCoverage` row per site (at or
  before the period end), weighted by each site's number of targets (a site with no
  target count weighs 1).
* **Repair time.** Hours from an alarm being raised to its work order's verified
  recovery, for work orders verified within the period; median and 90th percentile
  (linear interpolation, numpy's default), per region and per contractor.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Row, String, cast, func, select
from sqlalchemy.orm import Session

from vigil.core.errors import InputError, NotFoundError
from vigil.core.ids import validate_region_code
from vigil.core.models import Camera, Region, utcnow
from vigil.core.regions import in_subtrees
from vigil.coverage.models import SiteCoverage
from vigil.health.models import (
    Alarm,
    CameraStatus,
    MaintenanceTeam,
    QualityChange,
    ReportedRepair,
    StatusChange,
    WorkOrder,
)
from vigil.registry.streams import in_service_population

__all__ = [
    "KpiReport",
    "RegionKpi",
    "StepSeries",
    "and_series",
    "compute_kpis",
    "coverage_at",
    "kpi_timeline",
    "parse_period",
    "percentiles",
    "rollup",
    "true_time",
    "weighted_share",
]

_LEVEL_LENGTHS = (4, 6, 8, 11)
_PERIOD = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


# ---------------------------------------------------------------- pure arithmetic


@dataclass(frozen=True, slots=True)
class StepSeries:
    """Changes of a boolean step function per camera: camera index, time (s) and new value.

    ``initial[i]`` is camera ``i``'s value before its first change in the arrays.
    """

    initial: NDArray[np.bool_]
    cam: NDArray[np.intp]
    ts: NDArray[np.float64]
    value: NDArray[np.bool_]

    def __post_init__(self) -> None:
        n = len(self.cam)
        for name in ("ts", "value"):
            got = len(getattr(self, name))
            if got != n:
                raise InputError(f"StepSeries.{name}: expected {n} values (as cam), got {got}")
        if n and (self.cam.min() < 0 or self.cam.max() >= len(self.initial)):
            raise InputError("StepSeries.cam: camera index out of range of initial")

    @classmethod
    def build(cls, initial: Any, cam: Any = (), ts: Any = (), value: Any = ()) -> StepSeries:
        """Build from any sequences; changes are sorted by camera then time (stable)."""
        cam_a = np.asarray(cam, dtype=np.intp).reshape(-1)
        ts_a = np.asarray(ts, dtype=np.float64).reshape(-1)
        val_a = np.asarray(value, dtype=bool).reshape(-1)
        order = np.lexsort((ts_a, cam_a)) if len(cam_a) else np.arange(0)
        return cls(np.asarray(initial, dtype=bool).reshape(-1), cam_a[order], ts_a[order], val_a[order])


def true_time(s: StepSeries, start: float, end: float) -> NDArray[np.float64]:
    """Seconds in ``[start, end)`` during which each camera's value was true.

    Changes outside the window are allowed: clipping every change time to the window
    makes those before it set the state at ``start`` and those after it last zero time.
    """
    if end < start:
        raise InputError(f"period ends ({end}) before it starts ({start})")
    n = len(s.initial)
    out = np.where(s.initial, end - start, 0.0).astype(np.float64)
    if not len(s.cam):
        return out
    t = np.clip(s.ts, start, end)
    last = np.r_[s.cam[1:] != s.cam[:-1], True]
    first = np.r_[True, s.cam[1:] != s.cam[:-1]]
    nxt = np.where(last, end, np.r_[t[1:], end])
    dur = nxt - t
    out = out.copy()
    first_idx = np.flatnonzero(first)
    cams_with = s.cam[first_idx]
    # the initial value holds only until the camera's first change
    out[cams_with] = np.where(s.initial[cams_with], t[first_idx] - start, 0.0)
    out += np.bincount(s.cam, weights=np.where(s.value, dur, 0.0), minlength=n)
    return out


def _ffill(cam: NDArray[np.intp], mask: NDArray[np.bool_], val: NDArray[np.bool_],
           initial: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """For each change (sorted by camera, time), the latest ``val`` of a ``mask`` row of the same camera."""
    idx = np.where(mask, np.arange(len(cam)), -1)
    lastidx = np.maximum.accumulate(idx) if len(idx) else idx
    ok = (lastidx >= 0) & (cam[np.maximum(lastidx, 0)] == cam)
    return np.where(ok, val[np.maximum(lastidx, 0)], initial[cam])


def and_series(a: StepSeries, b: StepSeries) -> StepSeries:
    """The step function ``a AND b`` for every camera (e.g. online AND fault-free)."""
    if len(a.initial) != len(b.initial):
        raise InputError(f"and_series: expected series over {len(a.initial)} cameras, got {len(b.initial)}")
    cam = np.r_[a.cam, b.cam]
    ts = np.r_[a.ts, b.ts]
    src_a = np.r_[np.ones(len(a.cam), bool), np.zeros(len(b.cam), bool)]
    val = np.r_[a.value, b.value]
    order = np.lexsort((ts, cam))
    cam, ts, src_a, val = cam[order], ts[order], src_a[order], val[order]
    va = _ffill(cam, src_a, val, a.initial)
    vb = _ffill(cam, ~src_a, val, b.initial)
    return StepSeries(a.initial & b.initial, cam, ts, va & vb)


def weighted_share(values: Any, weights: Any) -> float | None:
    """Σ value·weight / Σ weight, or ``None`` when there is no weight."""
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    total = w.sum()
    return float((v * w).sum() / total) if total > 0 else None


def percentiles(values: Any, qs: tuple[float, ...] = (50.0, 90.0)) -> tuple[float | None, ...]:
    """Percentiles (linear interpolation) of ``values``; ``None`` for an empty sample."""
    v = np.asarray(values, dtype=float)
    if not len(v):
        return tuple(None for _ in qs)
    return tuple(float(x) for x in np.percentile(v, qs))


def rollup(codes: Any, values: Any) -> dict[str, tuple[float, int]]:
    """Sum ``values`` per region code and every ancestor: ``{code: (sum, count)}``.

    ``codes`` are the region codes of the items (cameras, sites); codes nest by prefix
    at 4, 6, 8 and 11 digits.
    """
    codes_a = np.asarray(codes, dtype=str)
    vals = np.asarray(values, dtype=float)
    out: dict[str, tuple[float, int]] = {}
    for n in _LEVEL_LENGTHS:
        keep = np.char.str_len(codes_a) >= n
        if not keep.any():
            continue
        prefixes = codes_a[keep].astype(f"<U{n}")  # truncates to the ancestor's code
        uniq, inv = np.unique(prefixes, return_inverse=True)
        sums = np.bincount(inv, weights=vals[keep], minlength=len(uniq))
        counts = np.bincount(inv, minlength=len(uniq))
        for u, sm, cn in zip(uniq.tolist(), sums.tolist(), counts.tolist(), strict=True):
            out[u] = (float(sm), int(cn))
    return out


def parse_period(text: str) -> timedelta:
    """Parse ``30m``, ``24h``, ``7d`` or ``2w`` into a duration."""
    m = _PERIOD.match(text or "")
    if not m:
        raise InputError(f"period {text!r}: expected a number and a unit m, h, d or w (e.g. 7d)")
    secs = float(m.group(1)) * _UNIT_S[m.group(2)]
    if secs <= 0:
        raise InputError(f"period {text!r} must be longer than zero")
    return timedelta(seconds=secs)


# ---------------------------------------------------------------- results


@dataclass(slots=True)
class RegionKpi:
    """The KPIs of one region over one period (rates in 0..1, times in hours)."""

    region_code: str
    name: str
    level: int
    cameras: int
    online_rate: float | None
    online_now: float | None
    integrity_rate: float | None
    coverage_rate: float | None
    sites: int
    repairs: int
    repair_median_h: float | None
    repair_p90_h: float | None
    active_alarms: int = 0
    open_workorders: int = 0
    breached_workorders: int = 0


@dataclass(slots=True)
class KpiReport:
    """KPIs for a region, its descendants to ``depth`` levels, and repair time per contractor."""

    region_code: str
    start: datetime
    end: datetime
    regions: list[RegionKpi]
    contractors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what the API returns)."""
        return {"region_code": self.region_code, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "period_hours": (self.end - self.start).total_seconds() / 3600,
                "regions": [asdict(r) for r in self.regions], "contractors": self.contractors}


# ---------------------------------------------------------------- database


def _ts(dt: datetime) -> float:
    return dt.timestamp()


@dataclass(slots=True)
class _Fleet:
    """The in-service cameras of a subtree with their online and intact step series."""

    ids: NDArray[np.str_]
    codes: NDArray[np.str_]
    online: StepSeries
    intact: StepSeries
    online_now: NDArray[np.bool_]


def _in_service(region_code: str) -> Any:
    return in_service_population(region_code)


def _load_changes(session: Session, table: Any, col: Any, region_code: str, start: datetime,
                  end: datetime) -> tuple[Sequence[Row[*tuple[Any, ...]]], Sequence[Row[*tuple[Any, ...]]]]:
    """(last change at or before ``start`` per camera, changes inside ``(start, end)``) as rows."""
    rn = func.row_number().over(partition_by=table.camera_id, order_by=(table.ts.desc(), table.id.desc()))
    sub = (select(table.camera_id.label("cid"), col.label("v"), rn.label("rn"))
           .join(Camera, Camera.id == table.camera_id)
           .where(table.ts <= start, _in_service(region_code)).subquery())
    before = session.execute(select(sub.c.cid, sub.c.v).where(sub.c.rn == 1)).all()
    inside = session.execute(
        select(table.camera_id, table.ts, col).join(Camera, Camera.id == table.camera_id)
        .where(table.ts > start, table.ts < end, _in_service(region_code))
        .order_by(table.camera_id, table.ts, table.id)).all()
    return before, inside


def _series(ids: NDArray[np.str_], before: Sequence[Row[*tuple[Any, ...]]], inside: Sequence[Row[*tuple[Any, ...]]], truth: Any,
            default: bool) -> StepSeries:
    initial = np.full(len(ids), default, dtype=bool)
    if before:
        idx = np.searchsorted(ids, np.array([r[0] for r in before], dtype=str))
        initial[idx] = [truth(r[1]) for r in before]
    if not inside:
        return StepSeries.build(initial)
    cam = np.searchsorted(ids, np.array([r[0] for r in inside], dtype=str))
    return StepSeries.build(initial, cam, [_ts(r[1]) for r in inside], [truth(r[2]) for r in inside])


def _load_fleet(session: Session, region_code: str, start: datetime, end: datetime) -> _Fleet:
    rows = session.execute(select(Camera.id, Camera.region_code).where(_in_service(region_code))).tuples().all()
    ids = np.array([r[0] for r in rows], dtype=str)
    codes = np.array([r[1] for r in rows], dtype=str)
    order = np.argsort(ids, kind="stable")  # searchsorted needs the ids sorted
    ids, codes = ids[order], codes[order]
    online = _series(ids, *_load_changes(session, StatusChange, StatusChange.state, region_code, start, end),
                     truth=lambda v: v == "online", default=False)
    fault_free = _series(ids, *_load_changes(session, QualityChange, QualityChange.faults, region_code,
                                             start, end), truth=lambda v: not v, default=True)
    now_rows = session.execute(select(CameraStatus.camera_id).join(Camera, Camera.id == CameraStatus.camera_id)
                               .where(CameraStatus.state == "online", _in_service(region_code))).scalars().all()
    online_now = np.zeros(len(ids), dtype=bool)
    if now_rows:
        online_now[np.searchsorted(ids, np.array(now_rows, dtype=str))] = True
    return _Fleet(ids, codes, online, and_series(online, fault_free), online_now)


def _coverage(session: Session, region_code: str, end: datetime,
              level: str | None = None) -> dict[str, tuple[float, float, int]]:
    """``{code: (Σ coverage·weight, Σ weight, sites)}`` from the newest row per site (of ``level``), rolled up."""
    key = func.coalesce(cast(SiteCoverage.site_id, String(20)),
                        SiteCoverage.region_code + ":" + SiteCoverage.site_name)
    rn = func.row_number().over(partition_by=key, order_by=(SiteCoverage.measured_at.desc(),
                                                             SiteCoverage.id.desc()))
    sub = (select(SiteCoverage.region_code.label("code"), SiteCoverage.coverage.label("cov"),
                  SiteCoverage.targets.label("targets"), rn.label("rn"))
           .where(SiteCoverage.measured_at <= end, in_subtrees(SiteCoverage.region_code, [region_code]),
                  *([SiteCoverage.level == level] if level else []))
           .subquery())
    rows = session.execute(select(sub.c.code, sub.c.cov, sub.c.targets).where(sub.c.rn == 1)).all()
    if not rows:
        return {}
    codes = [r[0] for r in rows]
    w = np.array([r[2] if r[2] and r[2] > 0 else 1 for r in rows], dtype=float)
    cov = np.array([r[1] for r in rows], dtype=float)
    num, den = rollup(codes, cov * w), rollup(codes, w)
    return {c: (num[c][0], den[c][0], num[c][1]) for c in num}


def _hours(start: datetime, end: datetime | None) -> float:
    """Hours from ``start`` to ``end`` (a repair's verification, never None once verified)."""
    assert end is not None
    return (end - start).total_seconds() / 3600


def _repairs(session: Session, region_code: str, start: datetime, end: datetime) -> list[tuple[str, str, float]]:
    """``(region_code, contractor, hours)`` for work orders verified in ``[start, end)``."""
    rows = session.execute(
        select(WorkOrder.region_code, MaintenanceTeam.contractor, Alarm.raised_at, WorkOrder.opened_at,
               WorkOrder.verified_at)
        .outerjoin(Alarm, Alarm.id == WorkOrder.alarm_id)
        .outerjoin(MaintenanceTeam, MaintenanceTeam.id == WorkOrder.team_id)
        .where(WorkOrder.verified_at >= start, WorkOrder.verified_at < end,
               in_subtrees(WorkOrder.region_code, [region_code]))).all()
    out = [(r[0], r[1] or "", _hours(r[2] or r[3], r[4])) for r in rows]
    reported = session.execute(  # verified on an instance below: the same start and end, reported by it
        select(ReportedRepair.region_code, ReportedRepair.contractor, ReportedRepair.started_at,
               ReportedRepair.verified_at)
        .where(ReportedRepair.verified_at >= start, ReportedRepair.verified_at < end,
               in_subtrees(ReportedRepair.region_code, [region_code]))).all()
    return out + [(r[0], r[1] or "", (r[3] - r[2]).total_seconds() / 3600) for r in reported]


def _counts(session: Session, region_code: str, now: datetime) -> dict[str, dict[str, int]]:
    """Active alarms, open and breached work orders per region code (not rolled up)."""
    out: dict[str, dict[str, int]] = {"alarms": {}, "open": {}, "breached": {}}
    for code, n in session.execute(select(Alarm.region_code, func.count()).where(
            Alarm.state == "active", in_subtrees(Alarm.region_code, [region_code])).group_by(Alarm.region_code)):
        out["alarms"][code] = n
    q = (select(WorkOrder.region_code, func.count()).where(WorkOrder.state != "closed",
         in_subtrees(WorkOrder.region_code, [region_code])).group_by(WorkOrder.region_code))
    out["open"] = dict(session.execute(q).tuples().all())
    out["breached"] = dict(session.execute(q.where((WorkOrder.breached.is_(True)) | (WorkOrder.due_at < now)))
                           .tuples().all())
    return out


def _rolled(counts: dict[str, int]) -> dict[str, tuple[float, int]]:
    codes = list(counts)
    return rollup(codes, [counts[c] for c in codes]) if codes else {}


def _regions(session: Session, region_code: str, depth: int) -> list[Region]:
    code = validate_region_code(region_code)
    root = session.get(Region, code)
    if root is None:
        raise NotFoundError(f"region {code} does not exist")
    return list(session.scalars(select(Region).where(in_subtrees(Region.code, [code]),
                                                      Region.level <= root.level + depth)
                                .order_by(Region.level, Region.code)))


def _window(period: str | timedelta, end: datetime | None) -> tuple[datetime, datetime]:
    end = (end or utcnow()).astimezone(UTC)
    span = parse_period(period) if isinstance(period, str) else period
    return end - span, end


def compute_kpis(session: Session, region_code: str, *, period: str | timedelta = "7d",
                 end: datetime | None = None, depth: int = 1, now: datetime | None = None,
                 coverage_level: str | None = None) -> KpiReport:
    """KPIs for ``region_code`` and its descendants down to ``depth`` levels, over ``period`` up to ``end``.

    ``coverage_level`` (e.g. a DORI level such as ``identify``) reports coverage at that level only.
    """
    start, end = _window(period, end)
    now = now or utcnow()
    regions = _regions(session, region_code, depth)
    fleet = _load_fleet(session, region_code, start, end)
    span = end.timestamp() - start.timestamp()
    on = rollup(fleet.codes, true_time(fleet.online, start.timestamp(), end.timestamp()))
    ok = rollup(fleet.codes, true_time(fleet.intact, start.timestamp(), end.timestamp()))
    now_on = rollup(fleet.codes, fleet.online_now.astype(float))
    cov = _coverage(session, region_code, end, coverage_level)
    repairs = _repairs(session, region_code, start, end)
    counts = {k: _rolled(v) for k, v in _counts(session, region_code, now).items()}
    out = []
    for r in regions:
        n = on.get(r.code, (0.0, 0))[1]
        c = cov.get(r.code)
        hours = [h for code, _, h in repairs if code.startswith(r.code)]
        med, p90 = percentiles(hours)
        out.append(RegionKpi(
            r.code, r.name, r.level, n,
            on[r.code][0] / (n * span) if n and span else None,
            now_on[r.code][0] / n if n else None,
            ok[r.code][0] / (n * span) if n and span else None,
            c[0] / c[1] if c and c[1] else None, c[2] if c else 0,
            len(hours), med, p90,
            int(counts["alarms"].get(r.code, (0, 0))[0]), int(counts["open"].get(r.code, (0, 0))[0]),
            int(counts["breached"].get(r.code, (0, 0))[0])))
    return KpiReport(regions[0].code, start, end, out, _by_contractor(repairs))


def _by_contractor(repairs: list[tuple[str, str, float]]) -> list[dict[str, Any]]:
    groups: dict[str, list[float]] = {}
    for _, contractor, h in repairs:
        groups.setdefault(contractor, []).append(h)
    out = []
    for name in sorted(groups):
        med, p90 = percentiles(groups[name])
        out.append({"contractor": name, "repairs": len(groups[name]), "repair_median_h": med, "repair_p90_h": p90})
    return out


def kpi_timeline(session: Session, region_code: str, *, period: str | timedelta = "7d",
                 step: str | timedelta = "1d", end: datetime | None = None) -> list[dict[str, Any]]:
    """Online, integrity and coverage rate of ``region_code`` per ``step`` bucket over ``period`` (for charts).

    The coverage rate of a bucket is the coverage KPI at its end (the newest measurement of each site).
    """
    start, end = _window(period, end)
    step_td = parse_period(step) if isinstance(step, str) else step
    if (end - start) / step_td > 2000:
        raise InputError("too many buckets: use a longer step or a shorter period")
    _regions(session, region_code, 0)
    fleet = _load_fleet(session, region_code, start, end)
    n = len(fleet.ids)
    out = []
    t = start
    ends = []
    while t < end:
        t2 = min(t + step_td, end)
        s0, s1 = t.timestamp(), t2.timestamp()
        denom = n * (s1 - s0)
        out.append({"start": t.isoformat(), "end": t2.isoformat(), "cameras": n,
                    "online_rate": float(true_time(fleet.online, s0, s1).sum() / denom) if denom else None,
                    "integrity_rate": float(true_time(fleet.intact, s0, s1).sum() / denom) if denom else None})
        ends.append(t2)
        t = t2
    for b, cov in zip(out, coverage_at(_coverage_history(session, region_code, end), ends), strict=True):
        b["coverage_rate"] = cov
    return out


def _coverage_history(session: Session, region_code: str, end: datetime) -> list[tuple[str, datetime, float, float]]:
    """Every coverage measurement of the subtree up to ``end``: ``(site key, measured_at, coverage, weight)``."""
    key = func.coalesce(cast(SiteCoverage.site_id, String(20)),
                        SiteCoverage.region_code + ":" + SiteCoverage.site_name)
    rows = session.execute(select(key, SiteCoverage.measured_at, SiteCoverage.coverage, SiteCoverage.targets)
                           .where(SiteCoverage.measured_at <= end, in_subtrees(SiteCoverage.region_code, [region_code]))
                           .order_by(SiteCoverage.measured_at, SiteCoverage.id)).tuples().all()
    return [(k, at, cov, float(n) if n and n > 0 else 1.0) for k, at, cov, n in rows]


def coverage_at(history: list[tuple[str, datetime, float, float]], times: list[datetime]) -> list[float | None]:
    """The coverage rate at each of ``times`` (ascending): the newest measurement per site by then, weighted.

    ``history`` is ``(site key, measured_at, coverage, weight)`` oldest first, as the KPI reads it.
    """
    newest: dict[str, tuple[float, float]] = {}
    out: list[float | None] = []
    i = 0
    for t in times:
        while i < len(history) and history[i][1] <= t:
            k, _, cov, w = history[i]
            newest[k] = (cov, w)
            i += 1
        den = sum(w for _, w in newest.values())
        out.append(sum(c * w for c, w in newest.values()) / den if den else None)
    return out
