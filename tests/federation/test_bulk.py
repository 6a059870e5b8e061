"""The feed's bulk writer stores exactly what SQLAlchemy's own insert stores; gzipped batches are capped."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta, timezone
from typing import cast

import pytest
from sqlalchemy import Table, insert, select, text

from vigil.core.errors import InputError
from vigil.core.models import Camera, Region, utcnow
from vigil.federation.bulk import insert_rows
from vigil.federation.peer import gunzip_capped
from vigil.health.models import CameraStatus, QualityChange

_CAMS, _STATUS, _QUALITY = (cast(Table, m.__table__) for m in (Camera, CameraStatus, QualityChange))


def _cam(i: int) -> dict:
    return {"id": f"530102010011320{i:05d}", "name": f"cam {i}", "region_code": "530102", "lon": 102.7, "lat": 25.0}


def test_insert_rows_matches_core_insert(vigil):
    """Same rows through both writers: every stored column (defaults, times, JSON) reads back equal."""
    with vigil.db.session() as s:
        s.add(Region(code="530102", name="city", level=6))
    t = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
    east8 = timezone(timedelta(hours=8))
    shapes = [([], t), (["blur", "dark"], t.replace(microsecond=0).astimezone(east8)), ([{"k": 1}], t)]
    with vigil.db.session() as s:
        s.execute(insert(_CAMS), [_cam(i) for i in range(3)])
        insert_rows(s, _CAMS, [_cam(i) for i in range(3, 6)])
        for n, (faults, ts) in enumerate(shapes):
            row = {"state": "online", "reason": "", "since": ts, "faults": faults}
            s.execute(insert(_STATUS), [{"camera_id": _cam(n)["id"], **row}])
            insert_rows(s, _STATUS, [{"camera_id": _cam(n + 3)["id"], **row}])
            q = {"ts": ts, "faults": faults, "metrics": {}}
            s.execute(insert(_QUALITY), [{"camera_id": _cam(n)["id"], **q}])
            insert_rows(s, _QUALITY, [{"camera_id": _cam(n + 3)["id"], **q}])
    with vigil.db.session() as s:
        for model, key in ((Camera, Camera.id), (CameraStatus, CameraStatus.camera_id),
                           (QualityChange, QualityChange.camera_id)):
            rows = {getattr(r, key.key): r for r in s.scalars(select(model))}
            skip = {"id", "camera_id", "created_at", "updated_at", "name"} if model is not CameraStatus else {"camera_id"}
            for n in range(3):
                a, b = rows[_cam(n)["id"]], rows[_cam(n + 3)["id"]]
                cols = [c.key for c in model.__table__.columns if c.key not in skip]
                assert {c: getattr(a, c) for c in cols} == {c: getattr(b, c) for c in cols}, model.__name__
        assert all(c.created_at.tzinfo is UTC and c.version == 1 for c in s.scalars(select(Camera)))
        if vigil.db.dialect == "sqlite":  # the stored text itself, not only what the ORM makes of it
            raw = s.execute(text("SELECT camera_id, since, faults FROM camera_status ORDER BY camera_id")).all()
            assert [r[1:] for r in raw[:3]] == [r[1:] for r in raw[3:]]


def test_insert_rows_refuses_a_naive_time(sqlite_vigil):
    with sqlite_vigil.db.session() as s:
        s.add(Region(code="530102", name="city", level=6))
        s.flush()
        insert_rows(s, _CAMS, [_cam(1)])
        with pytest.raises(ValueError, match="naive"):
            insert_rows(s, _STATUS, [{"camera_id": _cam(1)["id"], "state": "online", "reason": "",
                                      "since": utcnow().replace(tzinfo=None), "faults": []}])


@pytest.mark.parametrize(("body", "cap", "error"), [
    (gzip.compress(b'{"entries": []}', mtime=0), 1000, None),
    (gzip.compress(b"0" * 5000, mtime=0), 1000, "inflates past 1000 bytes"),
    (b'{"entries": []}', 1000, "not valid gzip"),
    (gzip.compress(b'{"entries": []}', mtime=0)[:-6], 1000, "incomplete"),
], ids=["whole", "bomb", "not-gzip", "cut"])  # fixed ids: every xdist worker must collect the same names
def test_gunzip_capped(body, cap, error):
    if error is None:
        assert gunzip_capped(body, cap) == b'{"entries": []}'
    else:
        with pytest.raises(InputError, match=error):
            gunzip_capped(body, cap)
