"""Live view: HLS cut from the camera's stream by FFmpeg, started on demand, stopped when idle.

- Stream copy (``-c copy``) unless the camera has privacy masks: a masked camera is re-encoded
  with its masks blacked out, so no unmasked live picture leaves the server.
- FFmpeg reads the camera URL (and its credentials) on stdin, never from its argv.
- One FFmpeg per watched camera writes a short rolling playlist into ``<run>/vigil-live-*/<camera>``.
  Every playlist or segment request marks the camera as watched; a reaper thread stops cameras
  nobody has asked for in ``idle_s`` seconds and removes their files.
- FFmpeg dies with the server (``PR_SET_PDEATHSIG``; children start from one long-lived thread),
  and the folder of a server that was killed is removed by the next one (:func:`sweep_stale`):
  a live folder is marked by a ``flock`` that its server holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from vigil.core.errors import NotFoundError, NotReadyError
from vigil.registry.streams import redact_text
from vigil.video.ffmpeg import Polygons, child_setup, mask_args, stream_input

__all__ = ["LiveConfig", "LiveManager", "LiveStarting", "hls_command", "sweep_stale"]

log = logging.getLogger("vigil.video.live")
_SEGMENT = re.compile(r"^seg\d{5,}\.ts$")
_PREFIX = "vigil-live-"
_LOCK = ".lock"


class LiveStarting(NotReadyError):
    """The camera's packager runs but has not written its first segment yet (the viewer retries)."""


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """Live-view tuning: segment length (cut on keyframes), playlist length and idle stop."""

    hls_time_s: float = 1.0
    list_size: int = 6
    idle_s: float = 30.0
    start_timeout_s: float = 20.0
    io_timeout_s: float = 10.0
    ffmpeg: str = "ffmpeg"


def hls_command(url: str, out: Path, cfg: LiveConfig, *, masks: Polygons = ()) -> tuple[list[str], bytes]:
    """FFmpeg argv (no URL in it) and its stdin: RTSP in, rolling HLS (MPEG-TS segments) out.

    Without ``masks`` the stream is copied; with them it is re-encoded with the masks blacked out.
    """
    inp, script = stream_input(url, io_timeout_s=cfg.io_timeout_s)
    video = (mask_args(masks, out / "mask.png", keyframe_s=cfg.hls_time_s) if masks
             else ["-map", "0:v:0", "-c", "copy"])
    argv = [
        cfg.ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", *inp, *video,
        "-f", "hls", "-hls_time", f"{cfg.hls_time_s:g}", "-hls_list_size", str(cfg.list_size),
        "-hls_flags", "delete_segments+omit_endlist+temp_file+independent_segments",
        "-hls_segment_filename", str(out / "seg%05d.ts"), str(out / "index.m3u8"),
    ]
    return argv, script


def sweep_stale(run_dir: Path) -> list[Path]:
    """Remove the live folders under ``run_dir`` left by servers that died (their lock is free)."""
    removed = []
    for d in sorted(run_dir.glob(_PREFIX + "*")) if run_dir.is_dir() else []:
        try:
            fd = os.open(d / _LOCK, os.O_RDWR)
        except OSError:
            continue  # not a folder of ours, or one being created right now
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a running server holds it
        finally:
            os.close(fd)
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


def _mask_key(masks: Polygons) -> tuple[tuple[tuple[float, ...], ...], ...]:
    return tuple(tuple(tuple(float(c) for c in pt) for pt in poly) for poly in masks)


@dataclass
class _Stream:
    proc: subprocess.Popen[bytes]
    folder: Path
    last_used: float
    masks: tuple[tuple[tuple[float, ...], ...], ...] = ()
    secrets: tuple[str, ...] = ()
    errors: deque[str] = field(default_factory=lambda: deque(maxlen=20))

    def read_errors(self) -> None:
        """Keep FFmpeg's last messages (credentials removed); runs on its own thread until EOF."""
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = redact_text(raw.decode(errors="replace").strip(), self.secrets)
            if line:
                self.errors.append(line)

    def error_text(self) -> str:
        return " | ".join(self.errors)[-300:]


class LiveManager:
    """Runs the live HLS packagers of an instance. Constructing it starts nothing.

    ``run_dir`` holds the live folder (default: the system's temporary folder); give the instance's
    ``run`` folder so that :func:`sweep_stale` finds what a killed server left there.
    """

    def __init__(self, cfg: LiveConfig | None = None, run_dir: Path | None = None) -> None:
        self.cfg = cfg or LiveConfig()
        self.run_dir = run_dir
        self._root: Path | None = None
        self._lock_fd = -1
        self._streams: dict[str, _Stream] = {}
        self._lock = threading.Lock()
        self._reaper: threading.Thread | None = None
        self._spawner: ThreadPoolExecutor | None = None
        self._stopping = threading.Event()
        self._audited: dict[tuple[str, str], float] = {}

    @property
    def root(self) -> Path | None:
        """The live folder, once the first stream started."""
        return self._root

    def _ensure_root(self) -> Path:
        if self._root is None:
            run = self.run_dir or Path(tempfile.gettempdir())
            run.mkdir(mode=0o700, parents=True, exist_ok=True)
            sweep_stale(run)
            root = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=run))
            self._lock_fd = os.open(root / _LOCK, os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._root = root
            # FFmpeg gets PR_SET_PDEATHSIG, which follows the thread that forked it: one thread
            # that lives as long as this manager starts them all (request threads come and go).
            self._spawner = ThreadPoolExecutor(1, thread_name_prefix="vigil-live-spawn")
        return self._root

    @staticmethod
    def _spawn(argv: list[str], script: bytes) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                preexec_fn=child_setup())
        assert proc.stdin is not None
        with contextlib.suppress(OSError):  # an FFmpeg that died at once is reported by the caller
            proc.stdin.write(script)
        with contextlib.suppress(OSError):
            proc.stdin.close()
        return proc

    def _start(self, camera_id: str, url: str, masks: Polygons) -> _Stream:
        folder = self._ensure_root() / camera_id
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        argv, script = hls_command(url, folder, self.cfg, masks=masks)
        assert self._spawner is not None
        proc = self._spawner.submit(self._spawn, argv, script).result()
        st = _Stream(proc, folder, time.monotonic(), _mask_key(masks), (url,))
        threading.Thread(target=st.read_errors, name=f"vigil-live-err-{camera_id}", daemon=True).start()
        self._streams[camera_id] = st
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(target=self._reap_loop, name="vigil-live-reaper", daemon=True)
            self._reaper.start()
        log.info("live: started %s (%s)", camera_id, "masked, re-encoded" if masks else "stream copy")
        return st

    def playlist(self, camera_id: str, url: str, masks: Polygons = ()) -> Path:
        """The camera's live playlist, starting its packager if needed; waits until it exists.

        ``masks`` are the camera's privacy masks; a packager started with other masks is restarted.
        """
        with self._lock:
            st = self._streams.get(camera_id)
            if st is not None and (st.proc.poll() is not None or st.masks != _mask_key(masks)):
                self._halt(self._streams.pop(camera_id))
                st = None
            if st is None:
                st = self._start(camera_id, url, masks)
            st.last_used = time.monotonic()
        index = st.folder / "index.m3u8"
        deadline = time.monotonic() + self.cfg.start_timeout_s
        while not index.exists():
            if st.proc.poll() is not None:
                time.sleep(0.1)  # let the reader thread take FFmpeg's last words
                self.stop(camera_id)
                err = st.error_text() or f"stream ended (FFmpeg exit status {st.proc.returncode})"  # redacted
                log.info("live: camera %s is not reachable: %s", camera_id, err)
                raise NotReadyError(f"camera {camera_id} is not reachable: {err}")
            if time.monotonic() > deadline:
                raise LiveStarting(f"camera {camera_id}: live stream not ready yet, retry")
            st.last_used = time.monotonic()  # a viewer waiting for the first segment is watching
            time.sleep(0.1)
        return index

    def segment(self, camera_id: str, name: str) -> Path:
        """A live segment file of a camera being watched."""
        if not _SEGMENT.match(name):
            raise NotFoundError(f"no live segment {name!r}")
        with self._lock:
            st = self._streams.get(camera_id)
            if st is None:
                raise NotFoundError(f"camera {camera_id} is not being watched")
            st.last_used = time.monotonic()
        path = st.folder / name
        if not path.exists():
            raise NotFoundError(f"live segment {name} has expired")
        return path

    def active(self) -> list[str]:
        """Cameras whose packager is running."""
        with self._lock:
            return [c for c, st in self._streams.items() if st.proc.poll() is None]

    def pids(self) -> list[int]:
        """Process ids of the running packagers."""
        with self._lock:
            return [st.proc.pid for st in self._streams.values() if st.proc.poll() is None]

    @staticmethod
    def _halt(st: _Stream) -> None:
        if st.proc.poll() is None:
            st.proc.terminate()
            try:
                st.proc.wait(5)
            except subprocess.TimeoutExpired:
                st.proc.kill()
                st.proc.wait()
        shutil.rmtree(st.folder, ignore_errors=True)

    def stop(self, camera_id: str) -> None:
        """Stop one camera's packager and remove its files."""
        with self._lock:
            st = self._streams.pop(camera_id, None)
        if st is None:
            return
        self._halt(st)
        log.info("live: stopped %s", camera_id)

    def stop_idle(self) -> list[str]:
        """Stop every packager nobody has used for ``idle_s``; returns their cameras."""
        now = time.monotonic()
        with self._lock:
            idle = [c for c, st in self._streams.items()
                    if now - st.last_used > self.cfg.idle_s or st.proc.poll() is not None]
        for c in idle:
            self.stop(c)
        return idle

    def close(self) -> None:
        """Stop everything and remove the live folder (the server is shutting down)."""
        self._stopping.set()
        for c in list(self._streams):
            self.stop(c)
        if self._spawner is not None:
            self._spawner.shutdown(wait=True)
            self._spawner = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def due_for_audit(self, user: str, camera_id: str, every_s: float = 300.0) -> bool:
        """True once per ``every_s`` per viewer and camera: live views are audited per session."""
        now = time.monotonic()
        with self._lock:
            last = self._audited.get((user, camera_id))
            if last is not None and now - last < every_s:
                return False
            self._audited[(user, camera_id)] = now
            return True

    def _reap_loop(self) -> None:
        while not self._stopping.wait(min(2.0, self.cfg.idle_s / 2)):
            with contextlib.suppress(Exception):
                self.stop_idle()
