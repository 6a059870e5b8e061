"""Helpers for the video tests: a real RTSP server (gst-rtsp-server), cameras, polling."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from vigil.core.ids import level_of_code
from vigil.core.models import Camera, Region, Site

_SERVER = Path(__file__).with_name("gst_rtsp_server.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RtspServer:
    """gst-rtsp-server in a subprocess (Debian python3), stopped and restarted by process id."""

    media: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    user: str = ""  # with a password: every request needs digest authentication
    password: str = ""

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def start(self) -> RtspServer:
        env = {**os.environ, "RTSP_AUTH": f"{self.user}:{self.password}" if self.user else ""}
        self.proc = subprocess.Popen(["/usr/bin/python3", str(_SERVER), str(self.port), str(self.media)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "READY"
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


def add_camera(session, url: str = "", *, cam_id: str = "53010200001320000001", region: str = "530102",
               protection_class: int = 3, sensitive: bool = False, kind: str = "public_area") -> Camera:
    """A region, a site and one camera pointing at ``url``."""
    for code in ("5301", region):
        if session.get(Region, code) is None:
            session.add(Region(code=code, name=f"R{code}", level=int(level_of_code(code)),
                               parent_code=None if code == "5301" else "5301"))
    session.flush()
    site = Site(name=f"site-{cam_id}", region_code=region, protection_class=protection_class, sensitive=sensitive)
    session.add(site)
    session.flush()
    cam = Camera(id=cam_id, name=f"cam {cam_id[-4:]}", region_code=region, site_id=site.id, lon=102.7, lat=25.0,
                 kind=kind, main_url=url)
    session.add(cam)
    session.flush()
    return cam


def wait_for(pred, timeout: float, step: float = 0.2):
    """Poll ``pred`` until it returns a truthy value or ``timeout`` passes."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def pids_mentioning(text: str) -> list[int]:
    """Live processes (not this one) whose command line contains ``text`` (a /proc scan, no psutil)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            out.append(int(d.name))
    return out


def cmdline(pid: int) -> str:
    """A process's command line, as any local user can read it."""
    return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def make_segments(v, cam: str, media: Path, start, *, seconds: float = 8, seg_s: float = 2) -> list:
    """Cut ``media`` into recorder-style segments (stream copy) and index them from ``start``."""
    from datetime import timedelta

    from vigil.video.segments import index_segment, session_name

    out = v.settings.recordings_dir / cam / start.strftime("%Y%m%d")
    out.mkdir(parents=True, exist_ok=True)
    sess = session_name(start)
    res = subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(media), "-t", f"{seconds:g}", "-map", "0:v",
                          "-c", "copy", "-f", "segment", "-segment_time", f"{seg_s:g}", "-reset_timestamps", "1",
                          "-segment_list", "pipe:1", "-segment_list_type", "csv", str(out / f"{sess}-%05d.mp4")],
                         capture_output=True, text=True, check=True)
    rows = []
    with v.db.session() as s:
        for line in res.stdout.splitlines():
            name, a, b = line.rsplit(",", 2)
            rows.append(index_segment(s, cam, out / name, start + timedelta(seconds=float(a)),
                                      start + timedelta(seconds=float(b))))
    return rows


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve the ASGI ``app`` with uvicorn on a free loopback port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    assert wait_for(lambda: server.started, 10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        th.join(10)


def console_as(browser: Any, base: str, token: str, page: str) -> None:
    """Open console ``page`` (e.g. ``#/wall``) in ``browser`` signed in with ``token`` (kept for the tab)."""
    browser.goto(f"{base}/ui/login.html")
    assert wait_for(lambda: browser.eval("document.readyState") == "complete", 20)
    browser.eval(f"sessionStorage.setItem('vigil_token', {json.dumps(token)})")
    browser.goto(f"{base}/ui/{page}")
