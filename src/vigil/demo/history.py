"""A week of plausible past health for the demo city, so its KPIs and charts start out meaningful.

Every in-service camera is online from the start of the period; a few percent have outages
(lognormal durations, median about three hours) that were alarmed, repaired and verified, and a
few have picture faults for a while. Only state changes are written, as the prober would.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert, select

from vigil.core.context import Vigil
from vigil.core.models import Camera, utcnow
from vigil.health.models import Alarm, CameraStatus, QualityChange, StatusChange, WorkOrder
from vigil.registry.streams import in_service_population

__all__ = ["seed_history"]

_REASONS = ["timeout", "refused", "timeout", "unreachable", "auth", "protocol"]
_FAULTS = ["blur", "dark", "covered", "color_cast", "noise", "frozen", "moved"]


def _outages(rng: np.random.Generator, start: datetime, end: datetime, n: int) -> list[tuple[datetime, datetime]]:
    span = (end - start).total_seconds()
    out: list[tuple[datetime, datetime]] = []
    for t in sorted(rng.uniform(0.02, 0.95, n)):
        t0 = start + timedelta(seconds=float(t * span))
        dur = float(np.clip(rng.lognormal(np.log(3 * 3600), 1.0), 600, 60 * 3600))
        t1 = min(t0 + timedelta(seconds=dur), end - timedelta(minutes=30))
        if t1 > t0 and (not out or t0 > out[-1][1]):
            out.append((t0, t1))
    return out


def seed_history(v: Vigil, *, days: float = 7.0, seed: int = 5, now: datetime | None = None) -> dict[str, int]:
    """Write past status and quality changes, alarms and closed work orders for every in-service camera."""
    rng = np.random.default_rng(seed)
    end = now or utcnow()
    start = end - timedelta(days=days)
    with v.db.session() as s:
        cams = s.execute(select(Camera.id, Camera.region_code).where(in_service_population())).all()
    changes: list[dict[str, Any]] = []
    quality: list[dict[str, Any]] = []
    status: list[dict[str, Any]] = []
    episodes: list[tuple[str, str, str, datetime, datetime]] = []
    for cid, region in cams:
        changes.append({"camera_id": cid, "ts": start, "state": "online", "reason": "", "ms": 40.0})
        last = start
        if rng.random() < 0.08:
            for t0, t1 in _outages(rng, start, end, int(rng.integers(1, 4))):
                changes.append({"camera_id": cid, "ts": t0, "state": "down", "reason": str(rng.choice(_REASONS)),
                                "ms": None})
                changes.append({"camera_id": cid, "ts": t1, "state": "online", "reason": "", "ms": 45.0})
                episodes.append((cid, region, "offline", t0, t1))
                last = t1
        if rng.random() < 0.03:
            for t0, t1 in _outages(rng, start, end, 1):
                fault = str(rng.choice(_FAULTS))
                quality.append({"camera_id": cid, "ts": t0, "faults": [fault], "metrics": {}})
                quality.append({"camera_id": cid, "ts": t1, "faults": [], "metrics": {}})
                episodes.append((cid, region, fault, t0, t1))
        status.append({"camera_id": cid, "state": "online", "reason": "", "since": last, "last_probe_at": None,
                       "consecutive_ok": 2, "consecutive_fail": 0, "faults": []})
    with v.db.session() as s:
        have = set(s.scalars(select(CameraStatus.camera_id)))
        for table, rows in ((StatusChange, changes), (QualityChange, quality),
                            (CameraStatus, [r for r in status if r["camera_id"] not in have])):
            for i in range(0, len(rows), 5000):
                s.execute(insert(table), rows[i:i + 5000])
        _repairs(s, episodes)
    return {"cameras": len(cams), "status_changes": len(changes), "quality_changes": len(quality),
            "repaired_episodes": len(episodes)}


def _repairs(s: Any, episodes: list[tuple[str, str, str, datetime, datetime]]) -> None:
    """A cleared alarm and a verified, closed work order for each past episode."""
    for cid, region, kind, t0, t1 in episodes:
        alarm = Alarm(camera_id=cid, region_code=region, kind=kind, state="cleared", raised_at=t0, cleared_at=t1,
                      detail={"demo_history": True})
        s.add(alarm)
        s.flush()
        due = t0 + timedelta(hours=24)
        s.add(WorkOrder(alarm_id=alarm.id, camera_id=cid, region_code=region, state="closed", opened_at=t0,
                        due_at=due, assigned_to="demo-team", resolved_at=t1, verified_at=t1, closed_at=t1,
                        breached=t1 > due, history=[{"at": t0.isoformat(), "to": "open"},
                                                    {"at": t1.isoformat(), "to": "closed", "by": "re-probe"}]))
