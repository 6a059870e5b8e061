"""Video tables: recording segments, retention policies, retrieval requests, exports, privacy masks.

Privacy masks live here (not in analytics) because recording exports, live view and
analytics all need them: ``from vigil.video.models import PrivacyMask``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vigil.core.errors import InputError
from vigil.core.models import Base, utcnow

__all__ = [
    "Export",
    "MediaNode",
    "PrivacyMask",
    "RecordingSegment",
    "RetentionPolicy",
    "RetrievalKind",
    "RetrievalRequest",
    "RetrievalState",
    "WallLayout",
    "validate_polygon",
]


class RecordingSegment(Base):
    """One closed (or, while being written, open) file of a camera's recording.

    ``start``/``end`` are wall-clock UTC; ``complete`` is False only for the file being
    written or one recovered after a crash that could not be read to its end. ``node`` names the
    scale-out worker whose storage holds the file ("": this process's own, the single-process case).
    """

    __tablename__ = "recording_segments"
    __table_args__ = (
        Index("ix_recording_segments_cam_start", "camera_id", "start"),
        Index("ix_recording_segments_start", "start"),
        UniqueConstraint("path", name="uq_recording_segments_path"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(500))
    start: Mapped[datetime]
    end: Mapped[datetime]
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    complete: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    node: Mapped[str] = mapped_column(String(120), default="", server_default="")

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


class MediaNode(Base):
    """A worker that holds recordings, and the URL where other nodes fetch its segments (``vigil.video.nodes``)."""

    __tablename__ = "media_nodes"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    url: Mapped[str] = mapped_column(String(300))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class RetentionPolicy(Base):
    """How long footage of one camera kind is kept: by age (days) and by total size (bytes).

    ``camera_kind`` is a :class:`vigil.core.models.CameraKind` value or ``"*"`` for the default.
    ``max_bytes`` of 0 means no size cap for the kind.
    """

    __tablename__ = "retention_policies"

    camera_kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    days: Mapped[float] = mapped_column(default=30.0)
    max_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RetrievalKind(enum.StrEnum):
    """What a retrieval request asks for."""

    VIEW = "view"
    EXPORT = "export"


class RetrievalState(enum.StrEnum):
    """The life of a retrieval request."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class RetrievalRequest(Base):
    """A request to watch or export recorded video of one camera over a time range."""

    __tablename__ = "retrieval_requests"
    __table_args__ = (Index("ix_retrieval_requests_state", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    requester: Mapped[str] = mapped_column(String(100), index=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    start: Mapped[datetime]
    end: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(10), default=RetrievalKind.VIEW.value)
    reason: Mapped[str] = mapped_column(Text)
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(10), default=RetrievalState.PENDING.value)
    approver: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Export(Base):
    """A finished export: an MP4 plus a manifest signed by the instance."""

    __tablename__ = "video_exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("retrieval_requests.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(500))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    signature: Mapped[str] = mapped_column(String(200))
    masked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PrivacyMask(Base):
    """A polygon of one camera's picture to black out (exports, live view, snapshots, analytics).

    ``polygon`` is a list of ``[x, y]`` points in normalised picture coordinates (0..1,
    origin top-left). Use :func:`validate_polygon` before storing.
    """

    __tablename__ = "privacy_masks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    polygon: Mapped[list[Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def validate_polygon(points: Any) -> list[list[float]]:
    """Check a normalised polygon (≥ 3 points, each coordinate in 0..1) and return it as floats."""
    if not isinstance(points, list | tuple) or len(points) < 3:
        raise InputError("a privacy mask needs a polygon of at least 3 [x, y] points")
    out: list[list[float]] = []
    for i, p in enumerate(points):
        if not isinstance(p, list | tuple) or len(p) != 2:
            raise InputError(f"point {i}: expected [x, y], got {p!r}")
        try:
            x, y = float(p[0]), float(p[1])
        except (TypeError, ValueError) as exc:
            raise InputError(f"point {i}: coordinates must be numbers") from exc
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise InputError(f"point {i}: coordinates must be normalised to 0..1, got [{x}, {y}]")
        out.append([x, y])
    return out


class WallLayout(Base):
    """A user's saved video-wall layout: its grid, the cameras in order, and the cycle period (0: none).

    With more cameras than tiles and a cycle period, the wall shows them a page at a time.
    """

    __tablename__ = "wall_layouts"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_wall_layouts_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)  # tiles: 1, 4, 9 or 16
    cameras: Mapped[list[Any]] = mapped_column(JSON, default=list)  # camera ids (or null: an empty tile)
    cycle_s: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
