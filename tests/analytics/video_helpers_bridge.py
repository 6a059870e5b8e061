"""Reuse the video tests' real RTSP server (Debian gst-rtsp-server) from the analytics tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "video"))

from video_helpers import RtspServer, add_camera  # noqa: E402

__all__ = ["RtspServer", "add_camera"]
