"""Per-camera VQD: sample the stream, judge it against the learned baseline, debounce, persist changes.

A raw fault becomes *confirmed* only after it has been seen in every diagnosis for
its window (:data:`WINDOWS`, and at least :data:`MIN_OBSERVATIONS` diagnoses); a
confirmed fault clears after it has been absent for :data:`CLEAR_AFTER` seconds (and
as many diagnoses). The confirmed set lives in ``CameraStatus.faults``; a
``QualityChange`` row is written only when it changes. The baseline learns only from
fault-free looks, so a fault never becomes the camera's new normal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from vigil.core.context import Vigil
from vigil.core.errors import InputError, NotFoundError, NotReadyError
from vigil.core.models import Camera, utcnow
from vigil.health.models import CameraStatus, QualityChange, VqdBaseline
from vigil.health.vqd_rules import Baseline, Diagnosis, diagnose_frames, learn
from vigil.health.vqd_sample import sample_timed
from vigil.registry.streams import stream_url_with_credentials

__all__ = ["CLEAR_AFTER", "MIN_OBSERVATIONS", "WINDOWS", "debounce", "diagnose_camera", "load_baseline",
           "reset_baseline"]

# Seconds a raw fault must persist before it counts.
WINDOWS: dict[str, float] = {"signal_loss": 30, "frozen": 60, "dark": 300, "bright": 300, "noise": 300,
                             "covered": 60, "blur": 300, "color_cast": 600, "moved": 600}
CLEAR_AFTER = 60.0
MIN_OBSERVATIONS = 2


def debounce(confirmed: frozenset[str], state: dict[str, Any], raw: set[str] | frozenset[str], now: datetime, *,
             windows: dict[str, float] | None = None, clear_after: float = CLEAR_AFTER,
             min_obs: int = MIN_OBSERVATIONS) -> tuple[frozenset[str], dict[str, Any]]:
    """The pure debounce step: ``(confirmed, state)`` after one diagnosis that found ``raw``.

    ``state`` is JSON-able: ``{"pending": {fault: [first_seen_iso, count]}, "clearing": {...}}``.
    """
    win = {**WINDOWS, **(windows or {})}
    pending = {f: v for f, v in (state.get("pending") or {}).items() if f in raw and f not in confirmed}
    clearing = {f: v for f, v in (state.get("clearing") or {}).items() if f in confirmed and f not in raw}
    out = set(confirmed)
    for f in raw:
        if f in confirmed:
            continue
        since, count = _step(pending.get(f), now)
        if count >= min_obs and (now - since).total_seconds() >= win.get(f, 0.0):
            out.add(f)
            pending.pop(f, None)
        else:
            pending[f] = [since.isoformat(), count]
    for f in confirmed - set(raw):
        since, count = _step(clearing.get(f), now)
        if count >= min_obs and (now - since).total_seconds() >= clear_after:
            out.discard(f)
            clearing.pop(f, None)
        else:
            clearing[f] = [since.isoformat(), count]
    return frozenset(out), {"pending": pending, "clearing": clearing}


def _step(entry: list[Any] | None, now: datetime) -> tuple[datetime, int]:
    if not entry:
        return now, 1
    since = datetime.fromisoformat(entry[0])
    return (since if since <= now else now), int(entry[1]) + 1


def load_baseline(session: Session, camera_id: str) -> Baseline | None:
    """The learned baseline of a camera, or ``None`` before its first fault-free look."""
    row = session.get(VqdBaseline, camera_id)
    if row is None or not row.samples:
        return None
    return Baseline.load(row.samples, (row.metrics or {}).get("stats"), row.reference)


def reset_baseline(vigil: Vigil, camera_id: str) -> None:
    """Forget a camera's baseline (after it was re-aimed on purpose); it is learned again."""
    with vigil.db.session() as s:
        row = s.get(VqdBaseline, camera_id)
        if row is not None:
            debounce_state = (row.metrics or {}).get("debounce", {})
            row.samples, row.reference, row.metrics = 0, None, {"stats": {}, "debounce": debounce_state}


def diagnose_camera(vigil: Vigil, camera_id: str, *, now: datetime | None = None, source: str | None = None,
                    n: int = 3, timeout: float = 10.0, windows: dict[str, float] | None = None) -> Diagnosis:
    """Sample a camera's stream (or ``source``), diagnose it, learn, debounce and store what changed.

    Raises :class:`NotFoundError` for an unknown camera and :class:`NotReadyError` when the
    stream cannot be opened and the camera is not known to be reachable (an outage, not a
    picture fault). A reachable camera whose stream cannot be opened has ``signal_loss``.
    """
    now = now or utcnow()
    with vigil.db.session() as s:
        cam = s.get(Camera, camera_id)
        if cam is None:
            raise NotFoundError(f"camera {camera_id} does not exist")
        if source is not None:
            url = source
        elif not (cam.main_url or cam.sub_url):
            raise InputError(f"camera {camera_id} has no stream URL")
        else:  # the registry refuses anything but an rtsp(s) URL without credentials inside
            url = stream_url_with_credentials(cam, vigil.box, sub=not cam.main_url)
        status = s.get(CameraStatus, camera_id)
        reachable = status is not None and status.state == "online"
        baseline = load_baseline(s, camera_id)
    try:
        timed = sample_timed(url, n, timeout)
        opened = True
    except NotReadyError:
        if not reachable:
            raise
        timed, opened = [], False
    diag = diagnose_frames([f for _, f in timed], baseline, times=[t for t, _ in timed])
    if not opened:
        diag = Diagnosis(diag.faults, diag.metrics,
                         ("signal_loss: the camera answers probes but its video stream cannot be opened",))
    learned = learn(baseline, diag)
    with vigil.db.session() as s:
        confirmed = _store(s, camera_id, diag, learned, now, windows)
    return Diagnosis(diag.faults, diag.metrics, diag.explanation, tuple(sorted(confirmed)), diag.frames)


def _store(s: Session, camera_id: str, diag: Diagnosis, learned: Baseline, now: datetime,
           windows: dict[str, float] | None) -> frozenset[str]:
    row = s.get(VqdBaseline, camera_id)
    if row is None:
        row = VqdBaseline(camera_id=camera_id, samples=0, metrics={})
        s.add(row)
    status = s.get(CameraStatus, camera_id)
    if status is None:
        status = CameraStatus(camera_id=camera_id, state="unknown", reason="", since=now, faults=[])
        s.add(status)
    old = frozenset(status.faults or [])
    confirmed, state = debounce(old, (row.metrics or {}).get("debounce", {}), set(diag.faults), now,
                                windows=windows)
    if learned.samples != row.samples:
        row.samples, row.reference = learned.samples, learned.reference_png()
    row.metrics = {"stats": learned.to_json()["stats"], "debounce": state}
    status.last_diagnosis_at = now
    if confirmed != old:
        status.faults = sorted(confirmed)
        status.faults_since = now
        s.add(QualityChange(camera_id=camera_id, ts=now, faults=sorted(confirmed), metrics=diag.metrics))
    return confirmed
