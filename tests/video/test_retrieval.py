"""Retrieval: reasons, second-person approval on class-1/sensitive sites, audit, signed exports, masks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest
from sqlalchemy import select
from video_helpers import add_camera, make_segments

from vigil.access.audit import verify_chain
from vigil.access.users import Principal
from vigil.core.errors import AccessDenied, InputError, NotFoundError
from vigil.core.models import AuditEntry, Role
from vigil.video import retrieval
from vigil.video.manifest import MANIFEST, pinned_public_key, verify_export
from vigil.video.models import PrivacyMask, validate_polygon

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ALICE = Principal(1, "alice", Role.INVESTIGATOR, ("530102",))
BOB = Principal(2, "bob", Role.DUTY_OFFICER, ("5301",))
CAROL = Principal(3, "carol", Role.DUTY_OFFICER, ("530199",))  # other district


def _setup(v, media, **site):
    with v.db.session() as s:
        cam = add_camera(s, "rtsp://127.0.0.1:9/x", **site).id
    make_segments(v, cam, media, T0, seconds=8, seg_s=2)
    return cam


def _audit(v, action):
    with v.db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _duration(path: Path) -> float:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        pts = [p.pts for p in c.demux(s) if p.pts is not None]
        return float((max(pts) - min(pts)) * s.time_base)


def test_class1_site_refused_until_a_second_person_approves(vigil, vtest_h264):
    v = vigil
    cam = _setup(v, vtest_h264, protection_class=1)
    with v.db.session() as s:
        req = retrieval.request_retrieval(s, ALICE, cam, T0 + timedelta(seconds=1), T0 + timedelta(seconds=5),
                                          kind="export", reason="case 2026-117: bicycle theft")
        rid = req.id
        assert req.state == "pending" and req.needs_approval
    for use in (retrieval.view, retrieval.export):
        with pytest.raises(AccessDenied, match="second person"):
            use(v, ALICE, rid)
    assert len(_audit(v, "video.retrieve.refused")) == 2
    with v.db.session() as s, pytest.raises(AccessDenied, match="may not video.approve"):
        retrieval.decide(s, ALICE, rid, approve=True)
    self_approver = Principal(2, "alice", Role.DUTY_OFFICER, ("5301",))
    with v.db.session() as s, pytest.raises(AccessDenied, match="second person"):
        retrieval.decide(s, self_approver, rid, approve=True)
    with v.db.session() as s, pytest.raises(NotFoundError):
        retrieval.decide(s, CAROL, rid, approve=True)  # out of scope
    with v.db.session() as s:
        retrieval.decide(s, BOB, rid, approve=True, note="ok per duty chief")
    with pytest.raises(AccessDenied, match="only the requester"):
        retrieval.view(v, BOB, rid)
    clip = retrieval.view(v, ALICE, rid)
    assert 3.0 <= _duration(clip) <= 6.0
    exp = retrieval.export(v, ALICE, rid)
    man = verify_export(Path(exp.path), (v.settings.home / "signing.pub").read_bytes())
    assert man["approver"] == "bob" and man["reason"].startswith("case 2026-117")
    assert len(man["sources"]) >= 2  # joined across segments
    # Tampering with the clip or the manifest is detected.
    manifest_path = Path(exp.path) / MANIFEST
    doc = json.loads(manifest_path.read_text())
    doc["reason"] = "edited"
    manifest_path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="signature"):
        verify_export(Path(exp.path), pinned_public_key(v.settings.home))
    # Every retrieval left an audit entry and the chain verifies.
    assert len(_audit(v, "video.view")) == 1 and len(_audit(v, "video.export")) == 1
    assert len(_audit(v, "video.retrieve.approve")) == 1
    with v.db.session() as s:
        assert verify_chain(s).ok


def test_ordinary_site_needs_a_reason_then_every_view_is_audited(sqlite_vigil, vtest_h264):
    v = sqlite_vigil
    cam = _setup(v, vtest_h264)
    with v.db.session() as s, pytest.raises(InputError, match="reason"):
        retrieval.request_retrieval(s, ALICE, cam, T0, T0 + timedelta(seconds=4), kind="view", reason=" ")
    with v.db.session() as s, pytest.raises(NotFoundError):
        retrieval.request_retrieval(s, CAROL, cam, T0, T0 + timedelta(seconds=4), kind="view", reason="patrol")
    with v.db.session() as s:
        rid = retrieval.request_retrieval(s, ALICE, cam, T0, T0 + timedelta(seconds=8), kind="view",
                                          reason="patrol check of the square").id
    for _ in range(3):
        clip = retrieval.view(v, ALICE, rid)
    assert _duration(clip) > 7.0
    with pytest.raises(AccessDenied, match="viewing only"):
        retrieval.export(v, ALICE, rid)
    assert len(_audit(v, "video.view")) == 3
    with v.db.session() as s:
        assert verify_chain(s).ok


def test_export_blacks_out_privacy_masks(sqlite_vigil, vtest_h264):
    v = sqlite_vigil
    cam = _setup(v, vtest_h264, sensitive=True)
    poly = validate_polygon([[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [0.0, 0.5]])
    with v.db.session() as s:
        s.add(PrivacyMask(camera_id=cam, name="window", polygon=poly))
        rid = retrieval.request_retrieval(s, ALICE, cam, T0, T0 + timedelta(seconds=3), kind="export",
                                          reason="case 2026-118: damage").id
    with v.db.session() as s:
        retrieval.decide(s, BOB, rid, approve=True)
    exp = retrieval.export(v, ALICE, rid)
    assert exp.masked
    clip = next(Path(exp.path).glob("*.mp4"))
    with av.open(str(clip)) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="gray")
    h, w = frame.shape
    assert frame[: h // 2 - 4, : w // 2 - 4].max() < 24  # blacked out
    assert frame[h // 2 + 4:, w // 2 + 4:].mean() > 40  # the rest is picture
    verify_export(Path(exp.path), pinned_public_key(v.settings.home))


@pytest.mark.parametrize("poly", [[[0, 0], [1, 1]], [[0, 0], [2, 0], [0, 1]], "x", [[0, 0], [1, "a"], [0, 1]]])
def test_mask_polygons_are_validated(poly):
    with pytest.raises(InputError):
        validate_polygon(poly)


def test_no_footage_in_range(sqlite_vigil, vtest_h264):
    v = sqlite_vigil
    cam = _setup(v, vtest_h264)
    later = T0 + timedelta(hours=2)
    with v.db.session() as s:
        rid = retrieval.request_retrieval(s, ALICE, cam, later, later + timedelta(minutes=1), kind="view",
                                          reason="nothing recorded then").id
    with pytest.raises(NotFoundError, match="no recording"):
        retrieval.view(v, ALICE, rid)
