"""Helpers of the media hub tests: a GB channel in the registry, where FFmpeg reads it, what it got."""

from __future__ import annotations

import asyncio
import io
import subprocess
from pathlib import Path

import av
import numpy as np
from gbkit import NVR

from vigil.core.models import Camera
from vigil.gb28181 import store
from vigil.gb28181.manscdp import CatalogItem
from vigil.video.ffmpeg import stream_input
from vigil.video.sources import camera_source

CAM = "34020000001310000001"


def add_channel(v) -> str:
    """The NVR's catalog with one camera channel: the channel becomes a registry camera without a URL."""
    with v.db.session() as s:
        store.apply_catalog(s, NVR, [CatalogItem(CAM, name="Gate", civil_code="340200", parent_id=NVR)])
    return CAM


def source_url(v) -> str:
    with v.db.session() as s:
        return camera_source(v, s.get(Camera, CAM))


def frames_of(data_or_path) -> list[np.ndarray]:
    """Every decoded picture (gray) of a PS byte string or a media file."""
    src = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else str(data_or_path)
    with av.open(src, format="mpeg" if isinstance(data_or_path, bytes) else None) as c:
        return [f.to_ndarray(format="gray") for f in c.decode(video=0)]


def copied(out_frames: list[np.ndarray], source: list[np.ndarray]) -> bool:
    """Stream copy: the output's pictures are bit-exact pictures of the source (noise does not survive a re-encode)."""
    return bool(out_frames) and all(any(np.array_equal(f, s) for s in source) for f in out_frames[:3])



async def copy_video(url: str, out: Path, frames: int, timeout: float = 30) -> list[np.ndarray]:
    """FFmpeg reads ``url`` as the recorder does (stdin script) and copies ``frames`` video frames to ``out``."""
    args, script = stream_input(url, io_timeout_s=5)
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", *args, "-map", "0:v:0", "-c", "copy",
        "-frames:v", str(frames), "-y", str(out), stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(script), timeout)
    assert proc.returncode == 0, err.decode()
    return frames_of(out)
