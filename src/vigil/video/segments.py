"""The segment index: naming, probing and indexing of recorded files, and repair from disk.

Files are ``<recordings>/<camera>/<YYYYMMDD>/<session>-<n:05d>.mp4`` where ``session`` is the
UTC time the recording process started (``YYYYmmddTHHMMSSfff``). Segments are fragmented MP4,
so a file cut short by a crash is still readable up to its last fragment.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.core.context import Vigil
from vigil.core.models import Camera
from vigil.video.models import RecordingSegment

__all__ = [
    "RepairReport",
    "camera_dir",
    "index_segment",
    "parse_name",
    "probe_duration",
    "repair_index",
    "session_name",
]

log = logging.getLogger("vigil.video.segments")
_NAME = re.compile(r"^(\d{8}T\d{9})-(\d{5})\.mp4$")
_SESSION_FMT = "%Y%m%dT%H%M%S"


def session_name(t: datetime) -> str:
    """The session prefix for a recording process started at ``t`` (UTC, millisecond resolution)."""
    t = t.astimezone(UTC)
    return t.strftime(_SESSION_FMT) + f"{t.microsecond // 1000:03d}"


def parse_name(path: Path) -> tuple[str, datetime, int] | None:
    """``(session, session_start, index)`` from a segment file name, or None if it is not one."""
    m = _NAME.match(path.name)
    if not m:
        return None
    sess = m.group(1)
    t = datetime.strptime(sess[:15], _SESSION_FMT).replace(tzinfo=UTC) + timedelta(milliseconds=int(sess[15:]))
    return sess, t, int(m.group(2))


def camera_dir(root: Path, camera_id: str) -> Path:
    """The folder holding one camera's segments."""
    return root / camera_id


def probe_duration(path: Path) -> float | None:
    """Duration in seconds of a segment, read from its packets; None if the file is unreadable."""
    import av

    try:
        with av.open(str(path), options={"ignore_editlist": "1"}) as c:
            if not c.streams.video:
                return None
            s = c.streams.video[0]
            lo = hi = None
            last_dur = 0
            for p in c.demux(s):
                if p.pts is None:
                    continue
                lo = p.pts if lo is None else min(lo, p.pts)
                if hi is None or p.pts >= hi:
                    hi, last_dur = p.pts, p.duration or 0
            if lo is None or hi is None or s.time_base is None:
                return None
            return float((hi - lo + last_dur) * s.time_base)
    except (av.error.FFmpegError, OSError, ValueError):
        return None


def index_segment(session: Session, camera_id: str, path: Path, start: datetime, end: datetime, *,
                  complete: bool = True, node: str = "") -> RecordingSegment:
    """Insert or update the index row of one file (keyed by its path), held by ``node`` ("": this process)."""
    size = path.stat().st_size if path.exists() else 0
    row = session.scalar(select(RecordingSegment).where(RecordingSegment.path == str(path)))
    if row is None:
        row = RecordingSegment(camera_id=camera_id, path=str(path), start=start, end=end, bytes=size,
                               complete=complete, node=node)
        session.add(row)
    else:
        row.start, row.end, row.bytes, row.complete = start, end, size, complete
    session.flush()
    return row


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What a repair pass changed in the index."""

    added: int = 0
    removed: int = 0
    dropped_files: int = 0


def _session_files(cam_dir: Path) -> dict[str, list[tuple[int, Path, datetime]]]:
    by_session: dict[str, list[tuple[int, Path, datetime]]] = defaultdict(list)
    for f in cam_dir.glob("*/*.mp4"):
        parsed = parse_name(f)
        if parsed:
            by_session[parsed[0]].append((parsed[2], f, parsed[1]))
    return by_session


def repair_session(session: Session, camera_id: str, files: list[tuple[int, Path, datetime]],
                   indexed: dict[str, RecordingSegment], *, node: str = "") -> tuple[int, int]:
    """Index the files of one recording session that the index lacks; returns (added, dropped).

    A file's start is the session's origin plus the durations of the files before it. The
    origin comes from an already indexed file of the session where there is one (those were
    timed by the live recorder), else from the session name.
    """
    files = sorted(files, key=lambda t: t[0])
    durations: list[float | None] = [None] * len(files)
    origin: datetime | None = None
    offset = 0.0
    for i, (_, f, _) in enumerate(files):
        row = indexed.get(str(f))
        if row is not None:
            durations[i] = row.duration_s
            if origin is None:
                origin = row.start - timedelta(seconds=offset)
        else:
            durations[i] = probe_duration(f)
        offset += durations[i] or 0.0
    origin = origin or files[0][2]
    added = dropped = 0
    offset = 0.0
    for i, (_, f, _) in enumerate(files):
        d = durations[i]
        if str(f) not in indexed:
            if d is None or d <= 0:
                log.warning("dropping unreadable segment %s", f)
                f.unlink(missing_ok=True)
                dropped += 1
                continue
            start = origin + timedelta(seconds=offset)
            # The last file of a session may have been cut short by a crash: mark it incomplete.
            complete = i < len(files) - 1
            index_segment(session, camera_id, f, start, start + timedelta(seconds=d), complete=complete,
                          node=node)
            added += 1
        offset += d or 0.0
    return added, dropped


def repair_index(v: Vigil, camera_ids: list[str] | None = None, *, skip_sessions: set[str] | None = None,
                 actor: str = "recorder", node: str = "") -> RepairReport:
    """Make the index match the files on disk: add unindexed files, drop rows whose file is gone.

    ``skip_sessions`` names sessions still being written (left alone). Only the rows of ``node``
    (the files on this node's disk) are considered: another worker's segments are not ours to drop.
    """
    root = v.settings.recordings_dir
    skip = skip_sessions or set()
    added = removed = dropped = 0
    with v.db.session() as s:
        cams = camera_ids if camera_ids is not None else list(s.scalars(select(Camera.id)))
        for cam in cams:
            rows = {r.path: r for r in s.scalars(select(RecordingSegment).where(
                RecordingSegment.camera_id == cam, RecordingSegment.node == node))}
            for r in list(rows.values()):
                if not Path(r.path).exists():
                    s.delete(r)
                    rows.pop(r.path)
                    removed += 1
            for sess, files in _session_files(camera_dir(root, cam)).items():
                if sess in skip or all(str(f) in rows for _, f, _ in files):
                    continue
                a, d = repair_session(s, cam, files, rows, node=node)
                added, dropped = added + a, dropped + d
        if added or removed or dropped:
            record(s, actor, "video.index.repair", "recordings", added=added, removed=removed,
                   dropped_unreadable=dropped)
    return RepairReport(added, removed, dropped)
