"""Live view: HLS cut from the camera's stream by FFmpeg ``-c copy``, started on demand, stopped when idle.

One FFmpeg per watched camera writes a short rolling playlist into a private temporary folder.
Every playlist or segment request marks the camera as watched; a reaper thread stops cameras
nobody has asked for in ``idle_s`` seconds and removes their files.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from vigil.core.errors import NotFoundError, NotReadyError
from vigil.registry.streams import redact_text

__all__ = ["LiveConfig", "LiveManager", "hls_command"]

log = logging.getLogger("vigil.video.live")
_SEGMENT = re.compile(r"^seg\d{5,}\.ts$")


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """Live-view tuning: segment length (cut on keyframes), playlist length and idle stop."""

    hls_time_s: float = 1.0
    list_size: int = 6
    idle_s: float = 30.0
    start_timeout_s: float = 20.0
    io_timeout_s: float = 10.0
    ffmpeg: str = "ffmpeg"


def hls_command(url: str, out: Path, cfg: LiveConfig) -> list[str]:
    """FFmpeg: RTSP in, rolling HLS (MPEG-TS segments) out, no re-encoding."""
    return [
        cfg.ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
        "-rtsp_transport", "tcp", "-timeout", str(int(cfg.io_timeout_s * 1e6)), "-i", url,
        "-map", "0:v:0", "-c", "copy", "-f", "hls", "-hls_time", f"{cfg.hls_time_s:g}",
        "-hls_list_size", str(cfg.list_size),
        "-hls_flags", "delete_segments+omit_endlist+temp_file+independent_segments",
        "-hls_segment_filename", str(out / "seg%05d.ts"), str(out / "index.m3u8"),
    ]


@dataclass
class _Stream:
    proc: subprocess.Popen[bytes]
    folder: Path
    last_used: float


class LiveManager:
    """Runs the live HLS packagers of an instance. Constructing it starts nothing."""

    def __init__(self, cfg: LiveConfig | None = None, root: Path | None = None) -> None:
        self.cfg = cfg or LiveConfig()
        self._root = root
        self._streams: dict[str, _Stream] = {}
        self._lock = threading.Lock()
        self._reaper: threading.Thread | None = None
        self._stopping = threading.Event()
        self._own_root = root is None
        self._audited: dict[tuple[str, str], float] = {}

    def _ensure_root(self) -> Path:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="vigil-live-"))
        self._root.mkdir(parents=True, exist_ok=True)
        return self._root

    def _start(self, camera_id: str, url: str) -> _Stream:
        folder = self._ensure_root() / camera_id
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        proc = subprocess.Popen(hls_command(url, folder, self.cfg), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        st = _Stream(proc, folder, time.monotonic())
        self._streams[camera_id] = st
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(target=self._reap_loop, name="vigil-live-reaper", daemon=True)
            self._reaper.start()
        log.info("live: started %s", camera_id)
        return st

    def playlist(self, camera_id: str, url: str) -> Path:
        """The camera's live playlist, starting its packager if needed; waits until it exists."""
        with self._lock:
            st = self._streams.get(camera_id)
            if st is None or st.proc.poll() is not None:
                st = self._start(camera_id, url)
            st.last_used = time.monotonic()
        index = st.folder / "index.m3u8"
        deadline = time.monotonic() + self.cfg.start_timeout_s
        while not index.exists():
            if st.proc.poll() is not None:
                err = (st.proc.stderr.read() if st.proc.stderr else b"").decode(errors="replace").strip()
                self.stop(camera_id)
                err = redact_text(err, (url,))[-300:]  # FFmpeg quotes the URL it was given, password and all
                log.info("live: camera %s is not reachable: %s", camera_id, err)
                raise NotReadyError(f"camera {camera_id} is not reachable: {err or 'stream ended'}")
            if time.monotonic() > deadline:
                raise NotReadyError(f"camera {camera_id}: live stream not ready yet, retry")
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

    def stop(self, camera_id: str) -> None:
        """Stop one camera's packager and remove its files."""
        with self._lock:
            st = self._streams.pop(camera_id, None)
        if st is None:
            return
        if st.proc.poll() is None:
            st.proc.terminate()
            try:
                st.proc.wait(5)
            except subprocess.TimeoutExpired:
                st.proc.kill()
                st.proc.wait()
        shutil.rmtree(st.folder, ignore_errors=True)
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
        """Stop everything (the app is shutting down)."""
        self._stopping.set()
        for c in list(self._streams):
            self.stop(c)
        if self._root is not None and self._own_root:
            shutil.rmtree(self._root, ignore_errors=True)

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
