"""Debounced online state: turn probe samples into :class:`CameraStatus` and :class:`StatusChange` rows.

Hysteresis (defaults ``down_after=2``, ``up_after=2``):

* an online camera is marked ``down`` after ``down_after`` consecutive failed probes, so an
  outage is known within 2 probe cycles;
* a down camera is marked ``online`` again after ``up_after`` consecutive successes;
* a camera never seen before (``unknown``) goes online at its first success, down after
  ``down_after`` failures;
* a camera that alternates between answering and not keeps its state: flapping is suppressed.

Only changes of state are stored as :class:`StatusChange`; while a camera stays down, the
latest reason is kept on its status row. Writes are bulk statements (one per table and chunk).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from vigil.core.models import utcnow
from vigil.health.models import CameraStatus, StatusChange

if TYPE_CHECKING:
    from vigil.health.probe import ProbeResult

__all__ = ["Counters", "StateChange", "apply_results", "next_state"]

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Counters:
    """A camera's debounced state and its run counters."""

    state: str = "unknown"
    reason: str = ""
    ok: int = 0
    fail: int = 0


@dataclass(frozen=True, slots=True)
class StateChange:
    """A stored change of a camera's state (what alarms and KPIs react to)."""

    camera_id: str
    ts: datetime
    old_state: str
    new_state: str
    reason: str
    ms: float | None


def next_state(cur: Counters, ok: bool, reason: str = "", *, down_after: int = 2, up_after: int = 2) -> Counters:
    """The pure hysteresis step: ``cur`` after one probe sample."""
    if ok:
        n = cur.ok + 1
        if cur.state == "unknown" or (cur.state == "down" and n >= up_after):
            return Counters("online", "", n, 0)
        return Counters(cur.state, cur.reason, n, 0)
    n = cur.fail + 1
    if cur.state == "down":
        return Counters("down", reason or cur.reason, 0, n)
    if n >= down_after:
        return Counters("down", reason, 0, n)
    return Counters(cur.state, cur.reason if cur.state != "online" else "", 0, n)


def _load(session: Session, ids: list[str]) -> dict[str, Counters]:
    out: dict[str, Counters] = {}
    for i in range(0, len(ids), _CHUNK):
        q = select(CameraStatus.camera_id, CameraStatus.state, CameraStatus.reason, CameraStatus.consecutive_ok,
                   CameraStatus.consecutive_fail).where(CameraStatus.camera_id.in_(ids[i:i + _CHUNK]))
        for cid, state, reason, ok, fail in session.execute(q):
            out[cid] = Counters(state, reason or "", ok or 0, fail or 0)
    return out


def apply_results(session: Session, results: Sequence[ProbeResult], *, now: datetime | None = None,
                  down_after: int = 2, up_after: int = 2) -> list[StateChange]:
    """Fold one sweep's results into the status table; return (and store) the state changes.

    ``ProbeResult.key`` must be the camera id. Results for one camera are applied in order.
    """
    ts = now or utcnow()
    current = _load(session, sorted({r.key for r in results}))
    fresh: set[str] = set()
    rows: dict[str, dict[str, Any]] = {}
    changes: list[StateChange] = []
    for r in results:
        before = current.get(r.key)
        if before is None:
            fresh.add(r.key)
            before = Counters()
        after = next_state(before, r.ok, r.reason, down_after=down_after, up_after=up_after)
        current[r.key] = after
        row = rows.setdefault(r.key, {"camera_id": r.key})
        row.update(state=after.state, reason=after.reason, consecutive_ok=after.ok, consecutive_fail=after.fail,
                   last_probe_at=ts, last_ms=round(r.ms, 2))
        if after.state != before.state:
            row["since"] = ts
            changes.append(StateChange(r.key, ts, before.state, after.state, after.reason, r.ms))
    _write(session, rows, fresh, changes, ts)
    return changes


def _write(session: Session, rows: dict[str, dict[str, Any]], fresh: set[str], changes: list[StateChange],
           ts: datetime) -> None:
    new = [{"since": ts, "faults": [], **v} for k, v in rows.items() if k in fresh]
    moved = [v for k, v in rows.items() if k not in fresh and "since" in v]
    same = [v for k, v in rows.items() if k not in fresh and "since" not in v]
    for i in range(0, len(new), _CHUNK):
        session.execute(insert(CameraStatus), new[i:i + _CHUNK])
    for batch in (moved, same):
        for i in range(0, len(batch), _CHUNK * 4):
            session.execute(update(CameraStatus), batch[i:i + _CHUNK * 4])
    log = [{"camera_id": c.camera_id, "ts": c.ts, "state": c.new_state, "reason": c.reason,
            "ms": None if c.ms is None else round(c.ms, 2)} for c in changes]
    for i in range(0, len(log), _CHUNK):
        session.execute(insert(StatusChange), log[i:i + _CHUNK])
