"""Continuous analytics inside ``vigil serve``: one worker thread per camera with analytics enabled.

:class:`AnalyticsService` follows the ``vigil.api.server.Service`` protocol. Every ``sync_every_s``
it re-reads the cameras switched on (``analytics_settings``): new ones start, disabled or retired
ones stop, a changed URL, zones file or privacy mask restarts the camera's worker.

Each :class:`CameraWorker` runs the analytics pipeline (:class:`vigil.analytics.pipeline.Analyzer`)
on the camera's substream in its own thread (decoding, OpenCV and onnxruntime release the GIL).
At most ``max_streams`` streams are open at once: a worker holds a slot only while it is connected,
so a camera that is down (backing off) never keeps a slot, and never delays the others. A dropped
or stalled stream (no frame for ``io_timeout_s``) is reopened with exponential backoff. A worker that
falls more than ``max_lag_s`` behind the live stream decodes without analysing until it catches up.
Events go to the database (with the webhook outbox) and, if configured, to MQTT. A failing sink is
logged and skipped; it never stops the analysis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vigil.analytics.events import AnalyticsEvent, DatabaseSink, EventSink, MqttSink
from vigil.analytics.roadrules import QueueMinute
from vigil.analytics.settings import CameraAnalytics, enabled_cameras
from vigil.core.context import Vigil
from vigil.core.errors import InputError
from vigil.registry.streams import redact_text

__all__ = ["AnalyticsService", "CameraWorker", "WorkerConfig", "parse_mqtt"]

log = logging.getLogger("vigil.analytics.worker")

_MAX_STEP_S = 30.0  # a larger jump of the stream's timestamps ends the session (camera clock reset)
MQTT_ENV = "VIGIL_MQTT"  # host:port of the broker events go to when no --mqtt is given


@dataclass(frozen=True, kw_only=True)
class WorkerConfig:
    """Worker tuning; the defaults suit production, tests shorten them."""

    backoff_min_s: float = 1.0
    backoff_max_s: float = 30.0
    stable_s: float = 10.0  # a session that streamed this long resets the backoff
    io_timeout_s: float = 10.0  # no frame for this long: the stream is considered dropped
    sync_every_s: float = 15.0  # how often the list of enabled cameras is re-read
    join_timeout_s: float = 15.0  # how long stop() waits for a worker stuck in a read
    max_lag_s: float = 5.0  # analysis this far behind the live stream skips frames (decodes them only)


def parse_mqtt(spec: str | None) -> tuple[str, int] | None:
    """``host:port`` (port defaults to 1883) of an MQTT broker; None or "" means no MQTT."""
    if not spec:
        return None
    host, _, port = spec.strip().rpartition(":") if ":" in spec else (spec.strip(), "", "1883")
    try:
        num = int(port)
    except ValueError:
        raise InputError(f"MQTT broker must be host:port, not {spec!r}") from None
    if not host or not 0 < num < 65536:
        raise InputError(f"MQTT broker must be host:port, not {spec!r}")
    return host, num


class _Guarded:
    """Wraps a sink: counts events and logs (never raises) a failing publish."""

    def __init__(self, sink: EventSink, name: str, camera: str) -> None:
        self.sink, self.name, self.camera = sink, name, camera
        self.failures = 0

    def publish(self, event: AnalyticsEvent) -> None:
        try:
            self.sink.publish(event)
        except Exception as exc:
            self.failures += 1
            if self.failures == 1 or self.failures % 100 == 0:
                log.warning("camera %s: %s sink failed (%d so far): %s", self.camera, self.name, self.failures, exc)

    def record_queue(self, sample: QueueMinute) -> None:
        """Forward a minute of queue length if the wrapped sink keeps them (never raises)."""
        record = getattr(self.sink, "record_queue", None)
        if record is None:
            return
        try:
            record(sample)
        except Exception as exc:
            self.failures += 1
            log.warning("camera %s: %s sink failed to keep a queue sample: %s", self.camera, self.name, exc)


class _Counter:
    """Counts the events a worker published (starts and ends)."""

    def __init__(self) -> None:
        self.started = 0
        self.ended = 0

    def publish(self, event: AnalyticsEvent) -> None:
        if event.end is None:
            self.started += 1
        else:
            self.ended += 1


class CameraWorker:
    """Analyses one camera in a thread until :meth:`stop`; reconnects with backoff. Constructing starts nothing."""

    def __init__(self, job: CameraAnalytics, *, sinks: Sequence[EventSink], slots: threading.Semaphore,
                 cfg: WorkerConfig, detect_fps: float, snapshot_dir: Path | None) -> None:
        self.job, self.cfg, self.detect_fps, self.snapshot_dir = job, cfg, detect_fps, snapshot_dir
        self.slots = slots
        self.counter = _Counter()
        self.sinks: list[EventSink] = [self.counter, *sinks]
        self.state = "idle"  # idle, waiting (for a slot), connecting, streaming, backoff, stopped
        self.sessions = 0
        self.frames = 0
        self.dropped = 0
        self.last_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"analytics-{job.camera_id}", daemon=True)
        self._detector: Any = None

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the worker to stop (it finishes its open events first); see :meth:`join`."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True if it did."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def status(self) -> dict[str, Any]:
        """Counters for monitoring."""
        return {"state": self.state, "sessions": self.sessions, "frames": self.frames, "dropped": self.dropped,
                "events": self.counter.started, "last_error": self.last_error}

    def _main(self) -> None:
        backoff = self.cfg.backoff_min_s
        failures, frames_before = 0, 0
        try:
            while not self._stop.is_set():
                self.state = "waiting"
                if not self._acquire():
                    break
                t0 = time.monotonic()
                failures = 0 if self.frames > frames_before else failures
                frames_before = self.frames
                try:
                    self._session()
                except Exception as exc:  # never let one camera's failure end its worker
                    self.last_error = redact_text(str(exc) or type(exc).__name__, (self.job.url,))
                    failures += 1
                    level = logging.WARNING if failures == 1 else logging.INFO  # warn once per outage
                    log.log(level, "camera %s: analytics stream failed: %s", self.job.camera_id, self.last_error)
                finally:
                    self.slots.release()
                if self._stop.is_set():
                    break
                if time.monotonic() - t0 >= self.cfg.stable_s:
                    backoff = self.cfg.backoff_min_s
                self.state = "backoff"
                log.info("camera %s: reconnecting analytics in %.1fs", self.job.camera_id, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.cfg.backoff_max_s)
        finally:
            self.state = "stopped"

    def _acquire(self) -> bool:
        while not self._stop.is_set():
            if self.slots.acquire(timeout=0.5):
                return True
        return False

    def _session(self) -> None:
        """One connection: decode and analyse until the stream ends, fails or the worker is stopped."""
        from vigil.analytics.detect import Detector
        from vigil.analytics.pipeline import AnalyzeOptions, Analyzer, frames
        from vigil.analytics.zones import parse_zones

        if self._detector is None:
            self._detector = Detector.load()
        self.state, self.sessions = "connecting", self.sessions + 1
        opts = AnalyzeOptions(camera=self.job.camera_id, detect_fps=self.detect_fps, snapshot_dir=self.snapshot_dir)
        zoneset = parse_zones(self.job.zones)
        an: Analyzer | None = None
        t = 0.0
        gen = frames(self.job.url, timeout_s=self.cfg.io_timeout_s)
        try:
            wall0 = 0.0
            for t_new, luma, bgr in gen:
                if an is None:  # the stream's clock starts at its first frame
                    self.state, self.last_error = "streaming", ""
                    an = Analyzer(self._detector, zoneset, options=opts, masks=self.job.masks, sinks=self.sinks,
                                  origin=datetime.now(UTC))
                    wall0 = time.monotonic() - t_new
                elif not t - 1.0 <= t_new <= t + _MAX_STEP_S:
                    self.last_error = f"timestamps jumped from {t:.1f}s to {t_new:.1f}s"
                    log.info("camera %s: %s", self.job.camera_id, self.last_error)
                    break  # the camera reset its clock: start a fresh session
                t = t_new
                if time.monotonic() - wall0 - t > self.cfg.max_lag_s:
                    self.dropped += 1  # behind the live stream: decode only until analysis catches up
                else:
                    an.process(t, luma, bgr)
                self.frames += 1
                if self._stop.is_set():
                    break
            else:
                self.last_error = "stream ended"
        finally:
            gen.close()
            if an is not None:
                an.finish(t)  # end the open events at the last frame seen


class AnalyticsService:
    """Runs continuous analytics for every camera with analytics enabled (see the module docstring).

    ``cameras`` limits the service to these camera ids (None: every enabled camera); ``mqtt`` is a
    ``host:port`` broker (None: ``$VIGIL_MQTT`` if set; "": none). On a scale-out worker ``keep``
    (camera id -> still ours?) follows its shards and ``sinks`` (job -> sinks) replaces the
    database-and-outbox sink (the events stream carries the notifications). The constructor only assigns.
    """

    def __init__(self, vigil: Vigil, *, cameras: Sequence[str] | None = None, max_streams: int = 8,
                 detect_fps: float = 2.0, mqtt: str | None = None, config: WorkerConfig | None = None,
                 keep: Callable[[str], bool] | None = None,
                 sinks: Callable[[CameraAnalytics], list[EventSink]] | None = None) -> None:
        self.vigil = vigil
        self.cameras = list(cameras) if cameras is not None else None
        self.keep, self.sinks = keep, sinks
        self.max_streams, self.detect_fps, self.mqtt = max_streams, detect_fps, mqtt
        self.config = config
        self.workers: dict[str, CameraWorker] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._slots = threading.BoundedSemaphore(max(max_streams, 1))
        self._mqtt: MqttSink | None = None
        self._mqtt_up = False
        self._warned: set[str] = set()

    @property
    def cfg(self) -> WorkerConfig:
        """The worker tuning in use."""
        return self.config or WorkerConfig()

    async def start(self) -> None:
        """Start watching the enabled cameras (returns at once; streams open in the background)."""
        if self.max_streams < 1 or self.detect_fps <= 0:
            raise InputError("max_streams must be >= 1 and detect_fps > 0")
        broker = parse_mqtt(os.environ.get(MQTT_ENV) if self.mqtt is None else self.mqtt)
        self._slots = threading.BoundedSemaphore(self.max_streams)
        self._stop = asyncio.Event()
        self.workers.clear()
        if broker is not None:
            self._mqtt = MqttSink(*broker)
        self._task = asyncio.create_task(self._supervise(), name="analytics-supervisor")

    async def stop(self) -> None:
        """Stop every worker (open events are ended and stored) and disconnect from MQTT."""
        if self._task is None or self._stop is None:
            return
        self._stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def status(self) -> dict[str, dict[str, Any]]:
        """Per-camera worker counters (state, sessions, frames, dropped, events, last_error)."""
        return {cam: w.status() for cam, w in self.workers.items()}

    async def _supervise(self) -> None:
        assert self._stop is not None
        try:
            while not self._stop.is_set():
                try:
                    await self._sync()
                except Exception:  # a database hiccup: try again at the next tick
                    log.exception("analytics: cannot read the enabled cameras")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.cfg.sync_every_s)
        finally:
            workers = list(self.workers.values())
            for w in workers:
                w.stop()
            await asyncio.gather(*(asyncio.to_thread(self._join, w) for w in workers))
            self.workers.clear()
            if self._mqtt is not None and self._mqtt_up:
                self._mqtt_up = False
                await asyncio.to_thread(self._mqtt.stop)

    def _join(self, w: CameraWorker) -> None:
        if not w.join(self.cfg.join_timeout_s):
            log.warning("camera %s: analytics worker did not stop in %.0fs; left behind",
                        w.job.camera_id, self.cfg.join_timeout_s)

    async def _connect_mqtt(self) -> None:
        """Connect the MQTT sink if it is configured and not connected (retried at every sync)."""
        if self._mqtt is None or self._mqtt_up:
            return
        try:
            await asyncio.to_thread(self._mqtt.start)
            self._mqtt_up = True
            log.info("analytics: publishing events to MQTT %s:%d", self._mqtt.host, self._mqtt.port)
        except Exception as exc:
            self._warn(f"analytics: MQTT not available, retrying: {exc}")

    def _warn(self, msg: str) -> None:
        if msg not in self._warned:
            self._warned.add(msg)
            log.warning("%s", msg)

    async def _sync(self) -> None:
        """Start, stop and restart workers to match the enabled cameras."""
        await self._connect_mqtt()
        jobs, problems = await asyncio.to_thread(enabled_cameras, self.vigil, self.cameras)
        for p in problems:
            self._warn(f"analytics: {p}")
        if len(jobs) > self.max_streams:
            self._warn(f"analytics: {len(jobs)} cameras enabled, at most {self.max_streams} streams at once")
        wanted = {j.camera_id: j for j in jobs if self.keep is None or self.keep(j.camera_id)}
        for cam_id, w in list(self.workers.items()):
            if wanted.get(cam_id) != w.job or not w.alive:
                w.stop()
                del self.workers[cam_id]
                asyncio.get_running_loop().run_in_executor(None, self._join, w)
        for cam_id, job in wanted.items():
            if cam_id not in self.workers:
                w = self._worker(job)
                self.workers[cam_id] = w
                w.start()

    def _worker(self, job: CameraAnalytics) -> CameraWorker:
        made = self.sinks(job) if self.sinks is not None else [DatabaseSink(self.vigil, job.region_code)]
        sinks: list[EventSink] = [_Guarded(x, type(x).__name__, job.camera_id) for x in made]
        if self._mqtt is not None:
            sinks.append(_Guarded(_Live(self._mqtt, lambda: self._mqtt_up), "MQTT", job.camera_id))
        return CameraWorker(job, sinks=sinks, slots=self._slots, cfg=self.cfg, detect_fps=self.detect_fps,
                            snapshot_dir=Path(self.vigil.settings.home) / "events")


class _Live:
    """Publishes to an MQTT sink only while it is connected (events meanwhile are in the DB and outbox)."""

    def __init__(self, sink: MqttSink, up: Callable[[], bool]) -> None:
        self.sink, self.up = sink, up

    def publish(self, event: AnalyticsEvent) -> None:
        if self.up():
            self.sink.publish(event)
