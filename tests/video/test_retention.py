"""Retention by age and by size per camera kind; every deletion is audited."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from video_helpers import add_camera, make_segments

from vigil.access.audit import verify_chain
from vigil.core.errors import InputError
from vigil.core.models import AuditEntry, utcnow
from vigil.video import retention
from vigil.video.models import RecordingSegment, RetrievalRequest


def test_age_and_size_per_camera_kind(vigil, vtest_h264):
    v = vigil
    now = utcnow()
    with v.db.session() as s:
        a = add_camera(s, "", cam_id="53010200001320000011", kind="gas_station").id
        b = add_camera(s, "", cam_id="53010200001320000012", kind="public_area").id
        retention.set_policy(s, "gas_station", days=90, max_bytes=700_000, actor="admin")
        retention.set_policy(s, "*", days=7, actor="admin")
        with pytest.raises(InputError):
            retention.set_policy(s, "spaceship", days=1, actor="admin")
    segs_a = make_segments(v, a, vtest_h264, now - timedelta(days=10), seconds=8, seg_s=2)
    old_b = make_segments(v, b, vtest_h264, now - timedelta(days=10), seconds=4, seg_s=2)
    held_b = make_segments(v, b, vtest_h264, now - timedelta(days=9), seconds=2, seg_s=2)
    with v.db.session() as s:  # an open export request holds its footage against age and size rules
        s.add(RetrievalRequest(requester="ivan", camera_id=b, start=held_b[0].start, end=held_b[0].end,
                               kind="export", reason="case 2026-121", state="pending", needs_approval=True))
    new_b = make_segments(v, b, vtest_h264, now - timedelta(hours=1), seconds=4, seg_s=2)
    rep = retention.enforce(v, min_free_bytes=0)
    assert rep.by_reason["age"] == len(old_b)
    assert rep.by_reason["size"] >= 1
    with v.db.session() as s:
        left_a = list(s.scalars(select(RecordingSegment).where(RecordingSegment.camera_id == a)
                                .order_by(RecordingSegment.start)))
        left_b = {r.path for r in s.scalars(select(RecordingSegment).where(RecordingSegment.camera_id == b))}
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "video.retention.delete")))
        assert verify_chain(s).ok
    assert sum(r.bytes for r in left_a) <= 700_000
    assert [r.path for r in left_a] == [r.path for r in segs_a[-len(left_a):]]  # the oldest went first
    assert left_b == {r.path for r in new_b + held_b}
    assert all(not Path(r.path).exists() for r in old_b)
    assert sum(e.detail["segments"] for e in entries) == rep.deleted
    assert retention.enforce(v, min_free_bytes=0).deleted == 0
