"""The recorder: one FFmpeg ``-c copy`` segmenter per camera, indexed as each segment closes.

- No re-encoding: FFmpeg pulls RTSP over TCP and cuts fragmented-MP4 segments on keyframes.
- Each closed segment is announced on FFmpeg's stdout (the CSV segment list) and indexed at once,
  timed on the wall clock: the session origin is fixed at the first segment close.
- FFmpeg reads the camera URL (with its credentials) on stdin, never from its argv.
- A camera that drops is reconnected with exponential backoff; a watchdog kills an FFmpeg whose
  newest file stops growing. FFmpeg dies with the recorder (``PR_SET_PDEATHSIG``), so a kill -9
  loses at most the segment being written, and :func:`repair_index` fixes the index on start.
- Retention runs periodically, and at once when a write fails (e.g. the disk is full).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.core.context import Vigil
from vigil.core.errors import NotReadyError
from vigil.core.models import Camera
from vigil.core.telemetry import telemetry
from vigil.registry.streams import in_service_population, redact_text
from vigil.video import retention
from vigil.video.ffmpeg import child_setup, stream_input
from vigil.video.segments import (
    camera_dir,
    index_segment,
    parse_name,
    repair_index,
    repair_session,
    session_name,
)
from vigil.video.sources import camera_source, has_media

__all__ = ["CameraRecorder", "Recorder", "RecorderConfig", "camera_url", "segment_command"]

log = logging.getLogger("vigil.video.recorder")


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    """Recorder tuning; the defaults suit production, tests shorten them."""

    segment_s: float = 60.0
    stall_s: float = 20.0
    backoff_min_s: float = 0.5
    backoff_max_s: float = 10.0  # bounds how long after an outage recording resumes
    retention_every_s: float = 30.0
    min_free_bytes: int | None = None  # None: retention.default_reserve(...)
    io_timeout_s: float = 10.0
    ffmpeg: str = "ffmpeg"


def camera_url(v: Vigil, cam: Camera, *, sub: bool = False) -> str:
    """Where FFmpeg reads the camera from (:func:`vigil.video.sources.camera_source`: RTSP or GB/T 28181)."""
    return camera_source(v, cam, sub=sub)


def segment_command(url: str, pattern: Path, cfg: RecorderConfig) -> tuple[list[str], bytes]:
    """FFmpeg argv (no URL in it) and its stdin: record ``url`` into segments named by ``pattern`` (``%05d``)."""
    inp, script = stream_input(url, io_timeout_s=cfg.io_timeout_s)
    argv = [
        cfg.ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", *inp,
        "-map", "0:v:0", "-c", "copy",
        "-f", "segment", "-segment_time", f"{cfg.segment_s:g}", "-segment_format", "mp4",
        "-segment_format_options", "movflags=+frag_keyframe+empty_moov+default_base_moof",
        "-reset_timestamps", "1", "-segment_list", "pipe:1", "-segment_list_type", "csv",
        str(pattern),
    ]
    return argv, script


@dataclass
class CameraRecorder:
    """Records one camera until ``stop`` is set. Constructing it starts nothing."""

    v: Vigil
    camera_id: str
    url: str
    cfg: RecorderConfig
    on_write_error: asyncio.Event | None = None
    node: str = ""  # the scale-out worker whose disk this is ("": the single process)
    fence: Callable[[Session, str], bool] | None = None  # (session, camera id) -> may we still index it?
    sessions: int = 0
    refused: int = 0
    segments: int = 0
    restarts: int = 0
    current_session: str | None = None
    last_error: str = ""
    proc: asyncio.subprocess.Process | None = None
    _stderr: deque[str] = field(default_factory=lambda: deque(maxlen=20))

    async def run(self, stop: asyncio.Event) -> None:
        """Record, reconnecting with backoff, until ``stop`` is set."""
        backoff = self.cfg.backoff_min_s
        while not stop.is_set():
            t_start = time.monotonic()
            try:
                got = await self._session(stop)
            except Exception as exc:  # the watchdog of last resort: never let one camera kill the loop
                self.last_error, got = redact_text(str(exc), (self.url,)), 0
                log.error("camera %s: recorder session failed: %s", self.camera_id, self.last_error)
                telemetry().recorder_errors.labels("session").inc()
            if stop.is_set():
                break
            self.restarts += 1
            telemetry().recorder_restarts.inc()
            if got or time.monotonic() - t_start > 4 * self.cfg.segment_s:
                backoff = self.cfg.backoff_min_s
            log.info("camera %s: reconnecting in %.1fs (%s)", self.camera_id, backoff, self.last_error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, self.cfg.backoff_max_s)

    async def _session(self, stop: asyncio.Event) -> int:
        """One FFmpeg run; returns the number of segments it produced."""
        now = datetime.now(UTC)
        sess = session_name(now)
        out_dir = camera_dir(self.v.settings.recordings_dir, self.camera_id) / now.strftime("%Y%m%d")
        out_dir.mkdir(parents=True, exist_ok=True)
        self.current_session, self.sessions = sess, self.sessions + 1
        self._stderr.clear()
        argv, script = segment_command(self.url, out_dir / f"{sess}-%05d.mp4", self.cfg)
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            preexec_fn=child_setup())
        self.proc = proc
        assert proc.stdin is not None
        proc.stdin.write(script)  # the URL and its credentials: on stdin, never in argv
        with contextlib.suppress(OSError):  # an FFmpeg that died at once is reported below
            await proc.stdin.drain()
        proc.stdin.close()
        state = _SessionState(sess, out_dir)
        tasks = [asyncio.create_task(self._read_list(proc, state)), asyncio.create_task(self._read_err(proc)),
                 asyncio.create_task(self._watchdog(proc, state, stop))]
        try:
            await proc.wait()
        finally:
            for t in tasks[1:]:
                t.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(tasks[0], 5)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            self.current_session = None
        self.last_error = (redact_text(" | ".join(self._stderr), (self.url,))  # FFmpeg may quote the URL
                           or f"ffmpeg exited with {proc.returncode}")
        await asyncio.to_thread(self._finish_session, state)
        if _is_write_error(self.last_error):
            telemetry().recorder_errors.labels("write").inc()
            if self.on_write_error is not None:
                self.on_write_error.set()
        return state.count

    async def _read_list(self, proc: asyncio.subprocess.Process, state: _SessionState) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            parts = raw.decode(errors="replace").strip().rsplit(",", 2)
            if len(parts) != 3:
                continue
            try:
                s0, s1 = float(parts[1]), float(parts[2])
            except ValueError:
                continue
            now = datetime.now(UTC)
            if state.origin is None:
                state.origin = now - timedelta(seconds=s1)
            path = state.out_dir / Path(parts[0]).name
            start, end = state.origin + timedelta(seconds=s0), state.origin + timedelta(seconds=s1)
            await asyncio.to_thread(self._index, path, start, end)
            state.count += 1
            self.segments += 1
            telemetry().segments.inc()

    def _index(self, path: Path, start: datetime, end: datetime) -> None:
        with self.v.db.session() as s:
            if self.fence is not None and not self.fence(s, self.camera_id):
                self._refuse([path])
                return
            index_segment(s, self.camera_id, path, start, end, node=self.node)

    def _refuse(self, paths: list[Path]) -> None:
        """A worker that lost the camera's shard: no row, and the file goes (the new owner records it)."""
        self.refused += len(paths)
        log.warning("camera %s: %d segment(s) refused: node %s no longer holds its shard",
                    self.camera_id, len(paths), self.node)
        for p in paths:
            p.unlink(missing_ok=True)

    async def _read_err(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode(errors="replace").strip()
            if line:
                self._stderr.append(line)

    async def _watchdog(self, proc: asyncio.subprocess.Process, state: _SessionState, stop: asyncio.Event) -> None:
        """Kill FFmpeg when asked to stop, or when its newest file has not grown for ``stall_s``."""
        last_size, last_change = -1, time.monotonic()
        while proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            if stop.is_set():
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGINT)  # FFmpeg closes the segment and lists it
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 5)
                break
            size = state.newest_size()
            if size != last_size:
                last_size, last_change = size, time.monotonic()
            elif time.monotonic() - last_change > self.cfg.stall_s:
                log.warning("camera %s: no data for %.0fs, restarting", self.camera_id, self.cfg.stall_s)
                self._stderr.append("watchdog: stream stalled")
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                break

    def _finish_session(self, state: _SessionState) -> None:
        """Index any file of the session that FFmpeg did not list (killed, stalled, disk full)."""
        files = [(i, p, parsed[1]) for i, p in state.files() if (parsed := parse_name(p))]
        if not files:
            return
        with self.v.db.session() as s:
            from vigil.video.models import RecordingSegment

            rows = {r.path: r for r in s.scalars(
                select(RecordingSegment).where(RecordingSegment.path.in_([str(p) for _, p, _ in files])))}
            if len(rows) < len(files):
                if self.fence is not None and not self.fence(s, self.camera_id):
                    self._refuse([p for _, p, _ in files if str(p) not in rows])
                    return
                repair_session(s, self.camera_id, files, rows, node=self.node)


@dataclass
class _SessionState:
    session: str
    out_dir: Path
    origin: datetime | None = None
    count: int = 0

    def files(self) -> list[tuple[int, Path]]:
        out = []
        for p in self.out_dir.glob(f"{self.session}-*.mp4"):
            with contextlib.suppress(ValueError):
                out.append((int(p.stem.rsplit("-", 1)[1]), p))
        return sorted(out)

    def newest_size(self) -> int:
        files = self.files()
        if not files:
            return -1
        with contextlib.suppress(OSError):
            return files[-1][1].stat().st_size + 1_000_000_000 * files[-1][0]
        return -1


def _is_write_error(text: str) -> bool:
    t = text.lower()
    return "no space" in t or "disk quota" in t or "error writing" in t or "i/o error" in t


@dataclass
class Recorder:
    """Records a set of cameras (all in-service cameras with a URL by default) and enforces retention.

    The camera list is re-read at every retention tick: new cameras start recording, retired or
    removed ones stop, and a changed stream URL restarts the camera's recorder. On a scale-out
    worker ``keep`` (camera id -> still ours?) follows the shards it holds, and ``node`` (its name)
    goes into each segment row; repair and retention touch only that node's segments.
    """

    v: Vigil
    cfg: RecorderConfig = field(default_factory=RecorderConfig)
    camera_ids: list[str] | None = None
    node: str = ""
    keep: Callable[[str], bool] | None = None
    fence: Callable[[Session, str], bool] | None = None
    cameras: dict[str, CameraRecorder] = field(default_factory=dict)
    _running: dict[str, tuple[asyncio.Task[None], asyncio.Event]] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _live: bool = False  # between the start and the end of run(): only then may sync_now start recorders

    def _wanted(self) -> dict[str, str]:
        """Camera id -> stream URL of every camera that should be recording now."""
        with self.v.db.session() as s:
            q = select(Camera).where(has_media())
            if self.camera_ids is not None:
                q = q.where(Camera.id.in_(self.camera_ids))
            else:
                q = q.where(in_service_population())
            out, waiting = {}, 0
            for c in s.scalars(q):
                if self.keep is not None and not self.keep(c.id):
                    continue
                try:
                    out[c.id] = camera_url(self.v, c)
                except NotReadyError:  # a GB/T 28181 channel while no registrar runs: one line for them all
                    waiting += 1
                except Exception as exc:  # a bad URL or credential must not stop the others
                    log.warning("camera %s cannot be recorded: %s", c.id, exc)
            if waiting:
                log.warning("%d GB/T 28181 camera(s) wait for a registrar (vigil serve --gb or vigil gb serve)",
                            waiting)
            return out

    async def sync_now(self) -> None:
        """Follow ``keep`` now (a worker that lost or won a shard), not at the next retention tick."""
        if self._live:
            await self._sync()

    async def _sync(self) -> None:
        async with self._lock:
            await self._sync_locked()

    async def _sync_locked(self) -> None:
        wanted = await asyncio.to_thread(self._wanted)
        stopping = []
        for cam_id in list(self._running):
            task = self._running[cam_id][0]
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("camera %s: recorder task died (%s); restarting it", cam_id, task.exception())
                telemetry().recorder_errors.labels("task").inc()
            if task.done() or cam_id not in wanted or wanted[cam_id] != self.cameras[cam_id].url:
                task, ev = self._running.pop(cam_id)
                ev.set()
                stopping.append(task)
        await asyncio.gather(*stopping, return_exceptions=True)  # all at once: each closes its segment
        for cam_id, url in wanted.items():
            if cam_id not in self._running:
                rec = CameraRecorder(self.v, cam_id, url, self.cfg, on_write_error=self.write_error, node=self.node,
                                     fence=self.fence)
                self.cameras[cam_id] = rec
                ev = asyncio.Event()
                self._running[cam_id] = (asyncio.create_task(rec.run(ev)), ev)

    async def run(self, stop: asyncio.Event) -> None:
        """Repair the index, record every camera, and enforce retention until ``stop`` is set."""
        self.write_error = asyncio.Event()
        ids = list((await asyncio.to_thread(self._wanted)).keys())
        report = await asyncio.to_thread(functools.partial(repair_index, self.v, ids, node=self.node))
        log.info("index repaired: %s", report)
        self._live = True
        try:
            while not stop.is_set():
                await self._sync()
                await asyncio.to_thread(self.enforce_retention)
                waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self.write_error.wait())]
                await asyncio.wait(waiters, timeout=self.cfg.retention_every_s,
                                   return_when=asyncio.FIRST_COMPLETED)
                for w in waiters:
                    w.cancel()
                self.write_error.clear()
        finally:
            self._live = False
            async with self._lock:  # a sync_now under way finishes first
                pass
            for _, ev in self._running.values():
                ev.set()
            await asyncio.gather(*(t for t, _ in self._running.values()), return_exceptions=True)
            self._running.clear()
            await asyncio.to_thread(self.enforce_retention)

    def enforce_retention(self) -> retention.RetentionReport | None:
        """One retention pass; errors are logged, never raised into the recording loop."""
        try:
            return retention.enforce(self.v, min_free_bytes=self.cfg.min_free_bytes, node=self.node)
        except Exception:
            log.exception("retention pass failed")
            telemetry().job_failed("retention")
            return None
