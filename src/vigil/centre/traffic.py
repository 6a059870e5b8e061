"""Traffic views without identities: per-lane vehicle counts from line crossings, as time series.

A lane is a line (tripwire) of a traffic camera's zones file; each ``line_crossing`` event of a vehicle
label is one vehicle crossing it in a direction. Counts are kept per camera, lane and direction, in
buckets (an hour by default), and summed per road node (the camera's site). Nothing here reads a plate
or follows a vehicle from one camera to the next: an event is a label, a line, a direction and a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.guard import Scope, ensure_visible, get_in_scope
from vigil.analytics.models import Event
from vigil.core.errors import InputError
from vigil.core.models import Camera, Site

__all__ = ["VEHICLES", "TrafficSeries", "bucket_counts", "traffic_counts"]

VEHICLES = ("car", "truck", "bus", "motorcycle", "bicycle", "vehicle")
MAX_BUCKETS = 24 * 62


@dataclass(frozen=True, slots=True)
class TrafficSeries:
    """Bucket starts and the counts per (camera, lane, direction) and per road node."""

    buckets: list[datetime]
    series: list[dict[str, Any]]
    nodes: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"buckets": [b.isoformat() for b in self.buckets], "series": self.series, "nodes": self.nodes}


def bucket_counts(crossings: Iterable[tuple[str, str, str, datetime]], start: datetime, end: datetime,
                  step: timedelta) -> tuple[list[datetime], dict[tuple[str, str, str], np.ndarray]]:
    """Pure: count ``(camera, lane, direction, time)`` crossings in ``[start, end)`` per bucket of ``step``."""
    if step <= timedelta(0) or end <= start:
        raise InputError("the period must be positive and its step more than zero")
    n = int(np.ceil((end - start) / step))
    if n > MAX_BUCKETS:
        raise InputError(f"{n} buckets: at most {MAX_BUCKETS} (widen the step or narrow the period)")
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
    if camera:
        get_in_scope(session, Camera, camera, scope, what=f"camera {camera}")
        q = q.where(Event.camera_id == camera)
    if region:
        ensure_visible(scope, region, f"region {region}")
        scope = scope.narrowed(region)
    q = q.where(scope.clause(Event.region_code))
    rows = ((c, z or "", d or "", t) for c, z, d, t in session.execute(q))
    buckets, counts = bucket_counts(rows, start, end, step)
    series = [{"camera_id": c, "lane": lane, "direction": d, "counts": v.tolist(), "total": int(v.sum())}
              for (c, lane, d), v in sorted(counts.items())]
    return TrafficSeries(buckets, series, _nodes(session, counts, len(buckets)))


def _nodes(session: Session, counts: dict[tuple[str, str, str], np.ndarray], n: int) -> list[dict[str, Any]]:
    """Counts summed per road node (the cameras' sites; a camera with no site is its own node)."""
    cams = sorted({c for c, _, _ in counts})
    site_of = {c: sid for c, sid in session.execute(select(Camera.id, Camera.site_id).where(Camera.id.in_(cams)))}
    sites = sorted({s for s in site_of.values() if s is not None})
    names = {sid: name for sid, name in session.execute(select(Site.id, Site.name).where(Site.id.in_(sites)))}
    sums: dict[str, np.ndarray] = {}
    label: dict[str, str] = {}
    for (c, _, _), v in counts.items():
        sid = site_of.get(c)
        key = f"site:{sid}" if sid is not None else f"camera:{c}"
        label[key] = names.get(sid, c) if sid is not None else c
        sums[key] = sums.get(key, np.zeros(n, dtype=np.int64)) + v
    return [{"node": k, "name": label[k], "counts": v.tolist(), "total": int(v.sum())} for k, v in sorted(sums.items())]
