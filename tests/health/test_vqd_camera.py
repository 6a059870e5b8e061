"""Per-camera VQD: debounce, learned baseline, stored changes, and outages kept apart from picture faults."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from vigil.core.errors import NotFoundError, NotReadyError
from vigil.core.models import Camera, Region
from vigil.health.models import CameraStatus, QualityChange, VqdBaseline
from vigil.health.vqd import debounce, diagnose_camera, load_baseline
from vigil.sim import media

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
CAM = "53010000001320000001"
CLIP = {"duration": 3.0, "gop": 10}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# --- the pure debounce step -------------------------------------------------------------------------------

def run(samples: list[set[str]], *, step_min: float = 1.0, windows=None) -> list[frozenset[str]]:
    confirmed: frozenset[str] = frozenset()
    state: dict = {}
    out = []
    for i, raw in enumerate(samples):
        confirmed, state = debounce(confirmed, state, raw, at(i * step_min), windows=windows)
        out.append(confirmed)
    return out


def test_transient_fault_is_not_confirmed():
    # blur needs 5 minutes; it is seen for 3 samples (2 minutes), then gone.
    out = run([set(), {"blur"}, {"blur"}, {"blur"}, set(), {"blur"}, set()])
    assert all(c == frozenset() for c in out)


def test_persisting_fault_is_confirmed_after_its_window_then_clears_after_recovery():
    out = run([{"blur"}] * 7 + [set()] * 3)
    assert [bool(c) for c in out] == [False] * 5 + [True] * 2 + [True, False, False]
    assert out[5] == {"blur"}


def test_each_fault_has_its_own_window():
    out = run([{"frozen", "color_cast"}] * 12)
    first_frozen = next(i for i, c in enumerate(out) if "frozen" in c)
    first_cast = next(i for i, c in enumerate(out) if "color_cast" in c)
    assert (first_frozen, first_cast) == (1, 10)
    # a single sample is never enough, even with a zero window
    assert run([{"dark"}], windows={"dark": 0}) == [frozenset()]
    assert run([{"dark"}, {"dark"}], windows={"dark": 0})[-1] == {"dark"}


def test_a_clean_sample_in_between_restarts_the_clock():
    out = run([{"noise"}] * 4 + [set()] + [{"noise"}] * 5)
    assert not any(out)


# --- diagnose_camera: sampling, baseline, persistence ------------------------------------------------------

@pytest.fixture
def camera(vigil):
    """A registered camera; its pictures come from clip files passed as ``source`` (never stored as a URL)."""
    with vigil.db.session() as s:
        s.add(Region(code="5301", name="Prefecture", level=1))
        s.flush()
        s.add(Camera(id=CAM, name="Plaza", region_code="5301", lon=102.7, lat=25.0,
                     main_url="rtsp://127.0.0.1:1/never-opened"))
    return vigil


@pytest.fixture
def healthy():
    return str(media.healthy_clip(source="vtest", start=5.0, **CLIP))


def stored(v) -> tuple[list[str], int, int]:
    with v.db.session() as s:
        st = s.get(CameraStatus, CAM)
        n = s.scalar(select(func.count()).select_from(QualityChange).where(QualityChange.camera_id == CAM))
        b = s.get(VqdBaseline, CAM)
        return list(st.faults), n, b.samples


def test_diagnose_camera_learns_debounces_and_stores_changes_only(camera, healthy):
    v = camera
    d = diagnose_camera(v, CAM, now=at(0), source=healthy)
    assert d.faults == () and d.confirmed == ()
    assert stored(v) == ([], 0, 1)
    blurred = str(media.fault_clip("blur", severity=2, source="vtest", start=30.0, **CLIP))
    for minute in range(1, 6):          # blur seen at 1..5 min: window of 5 min not yet passed
        d = diagnose_camera(v, CAM, now=at(minute), source=blurred)
        assert d.faults == ("blur",) and d.confirmed == ()
    d = diagnose_camera(v, CAM, now=at(6), source=blurred)
    assert d.confirmed == ("blur",)
    assert stored(v) == (["blur"], 1, 1)          # one change stored; the blurred picture was not learned
    diagnose_camera(v, CAM, now=at(7), source=blurred)
    assert stored(v) == (["blur"], 1, 1)          # no new row while nothing changes
    diagnose_camera(v, CAM, now=at(8), source=healthy)
    assert stored(v)[0] == ["blur"]               # one clean look is not yet a recovery
    d = diagnose_camera(v, CAM, now=at(9), source=healthy)
    assert d.confirmed == ()
    faults, changes, samples = stored(v)
    assert (faults, changes) == ([], 2) and samples == 3
    with v.db.session() as s:
        rows = s.scalars(select(QualityChange).order_by(QualityChange.ts)).all()
        assert [r.faults for r in rows] == [["blur"], []]
        assert rows[0].metrics["sharp_n"] < 0.1
        st = s.get(CameraStatus, CAM)
        assert st.faults_since.replace(tzinfo=UTC) == at(9)
        b = load_baseline(s, CAM)
        assert b is not None and b.reference is not None and b.stats["sharp_n"] > 0.5


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_camera_is_an_outage_not_a_picture_fault(camera):
    v = camera
    url = f"rtsp://127.0.0.1:{closed_port()}/main"
    with pytest.raises(NotReadyError):
        diagnose_camera(v, CAM, now=at(0), source=url, timeout=2)
    with v.db.session() as s:
        assert s.get(CameraStatus, CAM) is None      # nothing stored
        s.add(CameraStatus(camera_id=CAM, state="online", since=at(0), faults=[]))
    # the prober says the camera answers, yet its stream cannot be opened: that is signal loss
    d = diagnose_camera(v, CAM, now=at(1), source=url, timeout=2)
    assert d.faults == ("signal_loss",)
    assert "cannot be opened" in d.explanation[0]
    with pytest.raises(NotFoundError):
        diagnose_camera(v, "53010000001320000099")
