"""The analytics pipeline of one camera: decode -> motion -> detection on motion regions -> tracks -> events.

Motion runs on every frame (small grey picture). Detection runs at most ``detect_fps`` times per
second of video, and only when there is motion or an object is being followed, on crops around
those regions. Confirmed tracks become ``object`` events; zone and line rules add ``intrusion``,
``loitering``, ``line_crossing``, ``stopped`` and ``queue`` events. Privacy-masked areas are blacked out before detection
and in snapshots, and ignored by motion.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from vigil.analytics.detect import Detector, group
from vigil.analytics.events import AnalyticsEvent, EventSink, save_snapshot
from vigil.analytics.motion import MotionConfig, MotionDetector, Polygon, mask_image, polygon_mask
from vigil.analytics.roadrules import MinuteMax, QueueMinute
from vigil.analytics.tracks import Track, Tracker, iou_matrix
from vigil.analytics.zones import RuleEngine, ZoneEvent, ZoneSet
from vigil.core.errors import InputError, NotReadyError
from vigil.registry.streams import check_reader_url, redact_text, redact_url, url_secrets

__all__ = ["AnalyzeOptions", "Analyzer", "analyze", "frames"]


@dataclass(frozen=True, kw_only=True)
class AnalyzeOptions:
    """How one camera is analysed."""

    camera: str = "local"
    detect_fps: float = 2.0  # at most this many detection rounds per second of video
    min_hits: int = 2  # detections needed before a track becomes an event
    track_max_age_s: float = 2.0
    region_margin: float = 0.1  # tracked boxes are widened by this share when used as detection regions
    motion: MotionConfig = field(default_factory=MotionConfig)
    parked_memory_s: float = 600.0  # how long a stationary object is remembered (not re-reported)
    # A change over most of the picture (motion finds no region: it relearns the background) also judged on the
    # whole frame once, for a bus or a van close to the camera. Off: on the tuning crossings it found none more.
    detect_on_global_change: bool = False
    snapshot_dir: Path | None = None
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.detect_fps <= 0 or self.min_hits < 1 or self.track_max_age_s <= 0:
            raise InputError("detect_fps and track_max_age_s must be > 0 and min_hits >= 1")




class Analyzer:
    """Per-camera analytics state; feed :meth:`process` one frame at a time, then call :meth:`finish`."""

    def __init__(self, detector: Detector, zoneset: ZoneSet | None = None, *, options: AnalyzeOptions | None = None,
                 masks: Sequence[Polygon] = (), sinks: Sequence[EventSink] = (), origin: datetime | None = None):
        self.options = options or AnalyzeOptions()
        self.zoneset = zoneset or ZoneSet()
        self.masks = [*self.zoneset.masks, *masks]
        self.detector = detector
        self.sinks = list(sinks)
        self.origin = origin or datetime.now(UTC)
        self.motion = MotionDetector(self.options.motion, masks=self.masks)
        self.tracker = Tracker(max_age_s=self.options.track_max_age_s)
        self.rules = RuleEngine(self.zoneset)
        self.events: list[AnalyticsEvent] = []  # every finished event
        self.stats = {"frames": 0, "motion_frames": 0, "detect_rounds": 0, "global_changes": 0}
        self.queue_minutes = MinuteMax(self.options.camera)
        self.queue_samples: list[QueueMinute] = []  # every closed minute of every lane's queue
        self._open: dict[tuple[str, int, str], AnalyticsEvent] = {}  # (kind, track id, zone) -> open event
        self._last_detect = -np.inf
        self._mask_cache: tuple[tuple[int, int], np.ndarray] | None = None
        self._parked: list[tuple[str, np.ndarray, float]] = []  # (label group, box, last seen) of still objects

    def _at(self, t: float) -> datetime:
        return self.origin + timedelta(seconds=t)

    def process(self, t: float, luma: np.ndarray, bgr: Callable[[], np.ndarray]) -> None:
        """Analyse the frame at ``t`` seconds: ``luma`` its grey plane, ``bgr()`` its colour picture on demand."""
        self.stats["frames"] += 1
        moving = self.motion.detect(luma)
        h, w = luma.shape[:2]
        if self.motion.global_change and self.options.detect_on_global_change:
            moving = np.array([[0.0, 0.0, w, h]])
            self.stats["global_changes"] += 1
        if len(moving):
            self.stats["motion_frames"] += 1
        regions = [moving] + [self._widen(tr.box, w, h) for tr in self.tracker.tracks]
        boxes = np.concatenate(regions).reshape(-1, 4) if regions else np.zeros((0, 4))
        due = t - self._last_detect >= 1.0 / self.options.detect_fps
        if not (len(boxes) and due):
            self._end_tracks(self.tracker.expire(t), t)
            if not self.tracker.tracks:  # nothing in view: an empty measurement (queues clear)
                for ze in self.rules.update((), t):
                    self._zone_event(ze, None)
                self._sample_queues(t)
            return
        self._last_detect = t
        self.stats["detect_rounds"] += 1
        frame = mask_image(bgr(), self.masks)
        det = self.detector.detect_regions(frame, boxes)
        fh, fw = frame.shape[:2]
        norm = det.boxes / np.array([fw, fh, fw, fh], np.float32)
        keep = ~self._in_mask(norm, (fh, fw))
        ended = self.tracker.update(norm[keep], det.scores[keep], [n for n, k in zip(det.names(), keep,
                                                                                     strict=True) if k], t)
        self._end_tracks(ended, t)
        confirmed = [tr for tr in self.tracker.tracks if tr.hits >= self.options.min_hits]
        for tr in confirmed:
            self._object_event(tr, frame)
        for ze in self.rules.update(confirmed, t):
            self._zone_event(ze, frame)
        self._sample_queues(t)

    def finish(self, t: float) -> list[AnalyticsEvent]:
        """End every open event (the stream ended at ``t``); return all finished events."""
        self._end_tracks(self.tracker.flush(), t)
        for ze in self.rules.close_all(t):
            self._zone_event(ze, None)
        for q in self.queue_minutes.flush():
            self._record(q)
        return self.events

    def _sample_queues(self, t: float) -> None:
        for zone, st in self.rules.queues.items():
            for q in self.queue_minutes.add(zone, self._at(t), st.metres, st.vehicles):
                self._record(q)

    def _record(self, q: QueueMinute) -> None:
        """Hand a closed minute of queue length to the sinks that keep them (``record_queue``)."""
        self.queue_samples.append(q)
        for sink in self.sinks:
            record = getattr(sink, "record_queue", None)
            if record is not None:
                record(q)

    def _widen(self, box: np.ndarray, w: int, h: int) -> np.ndarray:
        m = self.options.region_margin
        bw, bh = box[2] - box[0], box[3] - box[1]
        return (np.array([box[0] - m * bw, box[1] - m * bh, box[2] + m * bw, box[3] + m * bh]) * [w, h, w, h])[None]

    def _in_mask(self, norm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """True for boxes whose centre lies in a privacy mask."""
        if not self.masks or len(norm) == 0:
            return np.zeros(len(norm), bool)
        if self._mask_cache is None or self._mask_cache[0] != shape:
            self._mask_cache = (shape, polygon_mask(shape, self.masks))
        mask = self._mask_cache[1]
        cx = np.clip(((norm[:, 0] + norm[:, 2]) / 2 * shape[1]).astype(int), 0, shape[1] - 1)
        cy = np.clip(((norm[:, 1] + norm[:, 3]) / 2 * shape[0]).astype(int), 0, shape[0] - 1)
        return mask[cy, cx] > 0

    def _snapshot(self, frame: np.ndarray, box: tuple[float, ...], name: str) -> str | None:
        if self.options.snapshot_dir is None:
            return None
        path = Path(self.options.snapshot_dir) / self.options.camera / f"{name}.jpg"
        return str(save_snapshot(frame, box, path, self.masks))  # type: ignore[arg-type]

    def _emit(self, ev: AnalyticsEvent) -> None:
        if ev.end is not None:
            self.events.append(ev)
        for sink in self.sinks:
            sink.publish(ev)

    def _parked_match(self, tr: Track) -> int | None:
        """Index of the remembered stationary object ``tr`` sits on, if any."""
        mine = group(tr.label)
        for i, (g, box, _) in enumerate(self._parked):
            if g == mine and iou_matrix(box, tr.box)[0, 0] >= 0.6:
                return i
        return None

    def _remember_parked(self, tr: Track) -> None:
        self._parked = [p for p in self._parked if tr.last_seen - p[2] <= self.options.parked_memory_s]
        if tr.moved():
            return
        i = self._parked_match(tr)
        entry = (group(tr.label), tr.box, tr.last_seen)
        if i is None:
            self._parked.append(entry)
        else:
            self._parked[i] = entry

    def _object_event(self, tr: Track, frame: np.ndarray) -> None:
        key = ("object", tr.id, "")
        if key in self._open:
            return
        if not tr.moved() and self._parked_match(tr) is not None:
            return  # a parked car or a still person already reported: not a new event until it moves
        box = tuple(float(v) for v in tr.box)
        ev = AnalyticsEvent(self.options.camera, "object", tr.label, self._at(tr.first_seen), None, box,  # type: ignore[arg-type]
                            tr.best_score, offset_s=(tr.first_seen, None))
        ev = replace(ev, snapshot=self._snapshot(frame, box, ev.uid))
        self._open[key] = ev
        self._emit(ev)

    def _zone_event(self, ze: ZoneEvent, frame: np.ndarray | None) -> None:
        key = (ze.type, ze.track_id, ze.zone)
        ev = self._open.pop(key, None)
        if ev is None:
            ev = AnalyticsEvent(self.options.camera, ze.type, ze.label, self._at(ze.start), None, ze.box, ze.score,
                                zone=ze.zone, direction=ze.direction, offset_s=(ze.start, None), value=ze.value)
            if frame is not None:
                ev = replace(ev, snapshot=self._snapshot(frame, ze.box, ev.uid))
            if ze.end is None:
                self._open[key] = ev
                self._emit(ev)
                return
        self._emit(ev.ended(self._at(ze.end), offset_s=(ev.offset_s[0], ze.end), value=ze.value))  # type: ignore[arg-type]

    def _end_tracks(self, ended: list[Track], t: float) -> None:
        if not ended:
            return
        for ze in self.rules.update((), t, ended=ended):
            self._zone_event(ze, None)
        for tr in ended:
            self._remember_parked(tr)
            ev = self._open.pop(("object", tr.id, ""), None)
            if ev is not None:
                box = tuple(float(v) for v in tr.best_box)
                self._emit(ev.ended(self._at(tr.last_seen), box=box, score=tr.best_score,
                                    offset_s=(tr.first_seen, tr.last_seen)))


def _luma(frame: object) -> np.ndarray:
    """The grey (Y) plane of a PyAV frame, without a copy where the pixel format allows."""
    fmt = frame.format.name  # type: ignore[attr-defined]
    if fmt in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "nv12", "gray"):
        plane = frame.planes[0]  # type: ignore[attr-defined]
        arr = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        return arr[: plane.height, : plane.width]
    return frame.to_ndarray(format="gray")  # type: ignore[attr-defined]


def frames(source: str, *, max_seconds: float | None = None, timeout_s: float = 10.0
           ) -> Generator[tuple[float, np.ndarray, Callable[[], np.ndarray]]]:
    """Decode ``source`` (a file or an rtsp(s) URL): yields (seconds from start, luma, bgr getter)."""
    import av

    is_url = not Path(source).is_file()
    if is_url and ":" not in source:
        raise InputError(f"no such video file: {source}")
    if is_url:
        check_reader_url(source)  # InputError for file://, data:, http:// and the like: never opened
    opts = {"rtsp_transport": "tcp", "timeout": str(int(timeout_s * 1e6))} if source.startswith("rtsp") else {}
    try:
        container = av.open(source, options=opts, timeout=timeout_s)
    except (av.error.FFmpegError, OSError) as exc:  # type: ignore[attr-defined]
        err = NotReadyError if is_url else InputError
        reason = getattr(exc, "strerror", None) or type(exc).__name__  # str(exc) would repeat the password
        raise err(f"cannot open {redact_url(source)}: {redact_text(reason, url_secrets(source))}") from None
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        t0: float | None = None
        for i, frame in enumerate(container.decode(stream)):
            t = frame.time if frame.time is not None else i / float(stream.average_rate or 25)
            t0 = t if t0 is None else t0
            if max_seconds is not None and t - t0 > max_seconds:
                break
            yield t - t0, _luma(frame), functools.partial(frame.to_ndarray, format="bgr24")


def analyze(source: str, detector: Detector, zoneset: ZoneSet | None = None, *,
            options: AnalyzeOptions | None = None, masks: Sequence[Polygon] = (),
            sinks: Sequence[EventSink] = (), origin: datetime | None = None) -> Analyzer:
    """Run the analytics over a whole file or stream; returns the analyzer (``.events``, ``.stats``)."""
    opts = options or AnalyzeOptions()
    an = Analyzer(detector, zoneset, options=opts, masks=masks, sinks=sinks, origin=origin)
    t = 0.0
    for t, luma, bgr in frames(source, max_seconds=opts.max_seconds):
        an.process(t, luma, bgr)
    an.finish(t)
    return an
