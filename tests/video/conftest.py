"""Fixtures for the video tests: a real H.264 clip of vtest.avi served by a real RTSP server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from video_helpers import RtspServer

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


@pytest.fixture(scope="session")
def vtest_h264(tmp_path_factory) -> Path:
    """60 s of vtest.avi as H.264 (keyframe every second, no B-frames)."""
    if not VTEST.exists():
        pytest.skip("vtest.avi (Debian opencv-doc) is not installed")
    out = tmp_path_factory.mktemp("media") / "vtest.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(VTEST), "-t", "60", "-c:v", "libx264",
                    "-preset", "veryfast", "-g", "10", "-bf", "0", "-an", str(out)], check=True, timeout=120)
    return out


@pytest.fixture
def rtsp_server(vtest_h264):
    srv = RtspServer(vtest_h264).start()
    yield srv
    srv.kill()
