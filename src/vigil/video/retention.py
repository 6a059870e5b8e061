"""Retention: per camera kind by age and by size, and the oldest footage first under disk pressure.

Footage under an open export request is kept by the age and size rules until it is exported.
Every deletion is written to the audit log: one entry per camera and reason per pass, listing
the files removed, their time span and their size.
"""

from __future__ import annotations

import logging
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, and_, exists, func, not_, select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.core.context import Vigil
from vigil.core.errors import InputError
from vigil.core.models import Camera, CameraKind, utcnow
from vigil.video.models import Export, RecordingSegment, RetentionPolicy, RetrievalRequest

__all__ = ["DEFAULT_POLICY", "Policy", "RetentionReport", "default_reserve", "enforce", "policy_for", "set_policy"]

log = logging.getLogger("vigil.video.retention")


@dataclass(frozen=True, slots=True)
class Policy:
    """Keep footage ``days`` days, and at most ``max_bytes`` per camera (0: no size cap)."""

    days: float
    max_bytes: int = 0


DEFAULT_POLICY = Policy(days=30.0)
_BATCH = 200
HOLD_DAYS = 90.0


def _not_held(now: datetime) -> ColumnElement[bool]:
    """Segments not covered by an open export request (filed in the last HOLD_DAYS, not yet exported).

    Age and size retention keep such footage until it is exported; disk pressure does not (writes
    must not fail), and logs what it removes.
    """
    R = RetrievalRequest
    held = exists().where(
        R.camera_id == RecordingSegment.camera_id, R.kind == "export", R.state.in_(("pending", "approved")),
        R.start < RecordingSegment.end, R.end > RecordingSegment.start,
        R.created_at > now - timedelta(days=HOLD_DAYS),
        not_(exists().where(Export.request_id == R.id)))
    return and_(not_(held))


def policy_for(session: Session, kind: str) -> Policy:
    """The policy of a camera kind: its own row, else the ``"*"`` row, else :data:`DEFAULT_POLICY`."""
    row = session.get(RetentionPolicy, kind) or session.get(RetentionPolicy, "*")
    return Policy(row.days, row.max_bytes) if row else DEFAULT_POLICY


def set_policy(session: Session, kind: str, *, days: float, max_bytes: int = 0, actor: str) -> Policy:
    """Set the retention of one camera kind (or ``"*"`` for the default)."""
    if kind != "*" and kind not in {k.value for k in CameraKind}:
        raise InputError(f"unknown camera kind {kind!r}; kinds: *, {', '.join(k.value for k in CameraKind)}")
    if days <= 0 or max_bytes < 0:
        raise InputError("days must be > 0 and max_bytes >= 0")
    row = session.get(RetentionPolicy, kind)
    if row is None:
        session.add(RetentionPolicy(camera_kind=kind, days=days, max_bytes=max_bytes))
    else:
        row.days, row.max_bytes = days, max_bytes
    record(session, actor, "video.retention.policy", f"kind:{kind}", days=days, max_bytes=max_bytes)
    return Policy(days, max_bytes)


def default_reserve(path: Path) -> int:
    """Free space to keep on the recordings filesystem: 5 % of it, between 1 MiB and 2 GiB."""
    total = shutil.disk_usage(path).total
    return int(min(2 << 30, max(1 << 20, 0.05 * total)))


@dataclass
class RetentionReport:
    """What a retention pass deleted."""

    deleted: int = 0
    bytes: int = 0
    by_reason: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    free_bytes: int | None = None


def _delete(session: Session, rows: list[RecordingSegment], reason: str, actor: str,
            report: RetentionReport) -> None:
    by_cam: dict[str, list[RecordingSegment]] = defaultdict(list)
    for r in rows:
        by_cam[r.camera_id].append(r)
    for cam, segs in by_cam.items():
        for r in segs:
            try:
                Path(r.path).unlink(missing_ok=True)
            except OSError as exc:
                log.warning("cannot delete %s: %s", r.path, exc)
                continue
            session.delete(r)
            report.deleted += 1
            report.bytes += r.bytes
            report.by_reason[reason] += 1
        cam_row = session.get(Camera, cam)
        record(session, actor, "video.retention.delete", f"camera:{cam}",
               region=cam_row.region_code if cam_row else None, reason=reason, segments=len(segs),
               bytes=sum(r.bytes for r in segs), first_start=min(r.start for r in segs).isoformat(),
               last_end=max(r.end for r in segs).isoformat(), files=[Path(r.path).name for r in segs])
    session.flush()


def _by_age(session: Session, now: datetime, actor: str, report: RetentionReport, node: str) -> None:
    kinds = set(session.scalars(select(Camera.kind).distinct()))
    for kind in kinds:
        cutoff = now - timedelta(days=policy_for(session, kind).days)
        while True:
            rows = list(session.scalars(
                select(RecordingSegment).join(Camera, Camera.id == RecordingSegment.camera_id)
                .where(Camera.kind == kind, RecordingSegment.end < cutoff, RecordingSegment.node == node,
                       _not_held(now))
                .order_by(RecordingSegment.start).limit(_BATCH)))
            if not rows:
                break
            _delete(session, rows, "age", actor, report)


def _by_size(session: Session, now: datetime, actor: str, report: RetentionReport, node: str) -> None:
    usage = session.execute(
        select(RecordingSegment.camera_id, Camera.kind, func.sum(RecordingSegment.bytes))
        .join(Camera, Camera.id == RecordingSegment.camera_id).where(RecordingSegment.node == node)
        .group_by(RecordingSegment.camera_id, Camera.kind))
    for cam, kind, used in list(usage):
        cap = policy_for(session, kind).max_bytes
        excess = int(used or 0) - cap
        if cap <= 0 or excess <= 0:
            continue
        victims: list[RecordingSegment] = []
        q = (select(RecordingSegment).where(RecordingSegment.camera_id == cam, RecordingSegment.node == node,
                                            _not_held(now))
             .order_by(RecordingSegment.start))
        for r in session.scalars(q):
            if excess <= 0:
                break
            victims.append(r)
            excess -= r.bytes
        _delete(session, victims, "size", actor, report)


def _by_pressure(session: Session, root: Path, reserve: int, actor: str, report: RetentionReport,
                 node: str) -> None:
    target = int(reserve * 1.5)
    while (free := shutil.disk_usage(root).free) < target:
        need = target - free
        victims: list[RecordingSegment] = []
        for r in session.scalars(select(RecordingSegment).where(RecordingSegment.node == node)
                                 .order_by(RecordingSegment.start).limit(_BATCH)):
            victims.append(r)
            need -= r.bytes
            if need <= 0:
                break
        if not victims:
            log.error("disk nearly full (%d bytes free) and no recorded footage is left to delete", free)
            break
        _delete(session, victims, "disk", actor, report)


def _expire_playback(folder: Path, max_age_s: float = 86400.0) -> None:
    """Remove playback clips (derived copies, re-made on demand) older than a day."""
    import time

    if not folder.is_dir():
        return
    for f in folder.glob("*.mp4"):
        try:
            if time.time() - f.stat().st_mtime > max_age_s:
                f.unlink()
        except OSError:
            continue


def enforce(v: Vigil, *, now: datetime | None = None, min_free_bytes: int | None = None,
            actor: str = "retention", node: str = "") -> RetentionReport:
    """One retention pass: age, then size per camera, then free space on the recordings disk.

    Only the segments ``node`` holds ("": this process's own disk) are considered: each worker
    keeps its own disk.
    """
    root = v.settings.recordings_dir
    root.mkdir(parents=True, exist_ok=True)
    report = RetentionReport()
    reserve = default_reserve(root) if min_free_bytes is None else min_free_bytes
    now = now or utcnow()
    with v.db.session() as s:
        _by_age(s, now, actor, report, node)
        _by_size(s, now, actor, report, node)
        _by_pressure(s, root, reserve, actor, report, node)
    _expire_playback(v.settings.home / "playback")
    report.free_bytes = shutil.disk_usage(root).free
    if report.deleted:
        log.info("retention deleted %d segments (%d bytes): %s", report.deleted, report.bytes,
                 dict(report.by_reason))
    return report
