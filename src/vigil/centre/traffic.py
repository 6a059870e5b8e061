"""Traffic views without identities: per-lane vehicle counts and queue lengths, as time series.

A lane is a line (tripwire) of a traffic camera's zones file; each ``line_crossing`` event of a vehicle
label is one vehicle crossing it in a direction. Counts are kept per camera, lane and direction, in
buckets (an hour by default), and summed per road node (the camera's site). Nothing here reads a plate
or follows a vehicle from one camera to the next: an event is a label, a line, a direction and a time.
Queue lengths are the per-minute maxima the pipeline keeps for lane zones with a queue rule
(:class:`vigil.analytics.models.QueueSample`); a bucket holds the longest queue in it (None: no sample).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVarTuple

import numpy as np
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from vigil.access.guard import Scope, ensure_visible, get_in_scope
from vigil.analytics.models import Event, QueueSample
from vigil.core.errors import InputError
from vigil.core.models import Camera, Site

__all__ = ["VEHICLES", "TrafficSeries", "bucket_counts", "bucket_max", "queue_lengths",
           "traffic_counts"]

VEHICLES = ("car", "truck", "bus", "motorcycle", "bicycle", "vehicle")
MAX_BUCKETS = 24 * 62
_Cols = TypeVarTuple("_Cols")  # the column types of a query that _scoped narrows


@dataclass(frozen=True, slots=True)
class TrafficSeries:
    """Bucket starts and the values (counts, or longest queues) per camera and lane, and per road node."""

    buckets: list[datetime]
    series: list[dict[str, Any]]
    nodes: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"buckets": [b.isoformat() for b in self.buckets], "series": self.series, "nodes": self.nodes}


def _bucket_count(start: datetime, end: datetime, step: timedelta) -> int:
    if step <= timedelta(0) or end <= start:
        raise InputError("the period must be positive and its step more than zero")
    n = int(np.ceil((end - start) / step))
    if n > MAX_BUCKETS:
        raise InputError(f"{n} buckets: at most {MAX_BUCKETS} (widen the step or narrow the period)")
    return n


def bucket_max(samples: Iterable[tuple[str, str, datetime, float]], start: datetime, end: datetime,
               step: timedelta) -> tuple[list[datetime], dict[tuple[str, str], list[float | None]]]:
    """Pure: the largest ``(camera, zone, time, metres)`` value in ``[start, end)`` per bucket (None: none)."""
    n = _bucket_count(start, end, step)
    out: dict[tuple[str, str], list[float | None]] = {}
    for cam, zone, ts, metres in samples:
        if not start <= ts < end:
            continue
        i = int((ts - start) // step)
        row = out.setdefault((cam, zone), [None] * n)
        row[i] = metres if row[i] is None else max(row[i], metres)  # type: ignore[type-var]
    return [start + k * step for k in range(n)], out


def queue_lengths(session: Session, *, scope: Scope, start: datetime, end: datetime,
                  step: timedelta = timedelta(hours=1), camera: str | None = None,
                  region: str | None = None) -> TrafficSeries:
    """The longest queue per bucket of each lane zone in ``scope`` (optionally one camera or region subtree)."""
    q = select(QueueSample.camera_id, QueueSample.zone, QueueSample.minute, QueueSample.max_m).where(
        QueueSample.minute >= start, QueueSample.minute < end)
    q = _scoped(session, q, QueueSample, scope=scope, camera=camera, region=region)
    buckets, peaks = bucket_max(session.execute(q).tuples(), start, end, step)
    series = [{"camera_id": c, "zone": z, "max_m": v, "peak_m": max((x for x in v if x is not None), default=None)}
              for (c, z), v in sorted(peaks.items())]
    node_of = _node_of(session, {c for c, _ in peaks})
    sums: dict[tuple[str, str], list[float | None]] = {}
    for (c, _), v in peaks.items():
        row = sums.setdefault(node_of[c], [None] * len(buckets))
        for i, x in enumerate(v):
            if x is not None:
                row[i] = x if row[i] is None else max(row[i], x)  # type: ignore[type-var]
    nodes = [{"node": k, "name": name, "max_m": v} for (k, name), v in sorted(sums.items())]
    return TrafficSeries(buckets, series, nodes)


def bucket_counts(crossings: Iterable[tuple[str, str, str, datetime]], start: datetime, end: datetime,
                  step: timedelta) -> tuple[list[datetime], dict[tuple[str, str, str], np.ndarray]]:
    """Pure: count ``(camera, lane, direction, time)`` crossings in ``[start, end)`` per bucket of ``step``."""
    n = _bucket_count(start, end, step)
    out: dict[tuple[str, str, str], np.ndarray] = {}
    for cam, lane, direction, ts in crossings:
        if not start <= ts < end:
            continue
        i = int((ts - start) // step)
        out.setdefault((cam, lane, direction), np.zeros(n, dtype=np.int64))[i] += 1
    return [start + k * step for k in range(n)], out


def traffic_counts(session: Session, *, scope: Scope, start: datetime, end: datetime,
                   step: timedelta = timedelta(hours=1), camera: str | None = None, region: str | None = None,
                   labels: tuple[str, ...] = VEHICLES) -> TrafficSeries:
    """Line-crossing counts of vehicles in ``scope`` (optionally one camera or one region's subtree)."""
    q = (select(Event.camera_id, Event.zone, Event.direction, Event.start)
         .where(Event.type == "line_crossing", Event.label.in_(labels), Event.start >= start, Event.start < end))
    q = _scoped(session, q, Event, scope=scope, camera=camera, region=region)
    rows = ((c, z or "", d or "", t) for c, z, d, t in session.execute(q))
    buckets, counts = bucket_counts(rows, start, end, step)
    series = [{"camera_id": c, "lane": lane, "direction": d, "counts": v.tolist(), "total": int(v.sum())}
              for (c, lane, d), v in sorted(counts.items())]
    return TrafficSeries(buckets, series, _nodes(session, counts, len(buckets)))


def _scoped(session: Session, q: Select[*_Cols], table: type[Event] | type[QueueSample], *, scope: Scope,
            camera: str | None, region: str | None) -> Select[*_Cols]:
    """``q`` narrowed to ``scope`` and optionally one camera (404 outside) or one visible region's subtree."""
    if camera:
        get_in_scope(session, Camera, camera, scope, what=f"camera {camera}")
        q = q.where(table.camera_id == camera)
    if region:
        ensure_visible(scope, region, f"region {region}")
        scope = scope.narrowed(region)
    return q.where(scope.clause(table.region_code))


def _node_of(session: Session, cams: Iterable[str]) -> dict[str, tuple[str, str]]:
    """The road node ``(key, name)`` of each camera: its site, or the camera itself when it has none."""
    cams = sorted(set(cams))
    site_of = {c: sid for c, sid in session.execute(select(Camera.id, Camera.site_id).where(Camera.id.in_(cams)))}
    sites = sorted({s for s in site_of.values() if s is not None})
    names = {sid: name for sid, name in session.execute(select(Site.id, Site.name).where(Site.id.in_(sites)))}
    return {c: (f"site:{sid}", names.get(sid, c)) if (sid := site_of.get(c)) is not None else (f"camera:{c}", c)
            for c in cams}


def _nodes(session: Session, counts: dict[tuple[str, str, str], np.ndarray], n: int) -> list[dict[str, Any]]:
    """Counts summed per road node (the cameras' sites; a camera with no site is its own node), also per direction."""
    node_of = _node_of(session, (c for c, _, _ in counts))
    sums: dict[tuple[str, str], np.ndarray] = {}
    ways: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for (c, _, d), v in counts.items():
        sums[node_of[c]] = sums.get(node_of[c], np.zeros(n, dtype=np.int64)) + v
        per = ways.setdefault(node_of[c], {})
        per[d] = per.get(d, np.zeros(n, dtype=np.int64)) + v
    return [{"node": k, "name": name, "counts": v.tolist(), "total": int(v.sum()),
             "directions": {d: x.tolist() for d, x in sorted(ways[(k, name)].items())}}
            for (k, name), v in sorted(sums.items())]
