"""Cutting a time range out of recorded segments with FFmpeg, and blacking out privacy masks.

A plain clip is a stream copy joined across segments with the concat demuxer (cuts land on
keyframes, so a clip may start up to one GOP early). A masked clip is the one case that
re-encodes: a black image of the mask polygons is overlaid on every frame (:func:`mask_args`).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from vigil.core.errors import NotFoundError, VigilError
from vigil.video.ffmpeg import child_setup, mask_args
from vigil.video.models import RecordingSegment

__all__ = ["concat_list", "make_clip"]


def concat_list(segs: Sequence[RecordingSegment], start: datetime, end: datetime) -> str:
    """The concat-demuxer script for the part of ``segs`` inside ``[start, end)``."""
    lines = ["ffconcat version 1.0"]
    for s in segs:
        if s.end <= start or s.start >= end or not Path(s.path).exists():
            continue
        path = s.path.replace("'", "'\\''")
        lines.append(f"file '{path}'")
        if s.start < start:
            lines.append(f"inpoint {(start - s.start).total_seconds():.3f}")
        if s.end > end:
            lines.append(f"outpoint {(end - s.start).total_seconds():.3f}")
    if len(lines) == 1:
        raise NotFoundError("no recording covers that time range")
    return "\n".join(lines) + "\n"


def make_clip(segs: Sequence[RecordingSegment], start: datetime, end: datetime, out: Path, *,
              masks: Sequence[Sequence[Sequence[float]]] = (), ffmpeg: str = "ffmpeg",
              timeout_s: float = 600) -> Path:
    """Write ``out`` (MP4, faststart): stream copy, or a re-encode with ``masks`` blacked out."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        lst = Path(tmp) / "list.ffconcat"
        lst.write_text(concat_list(segs, start, end))
        cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "concat", "-safe", "0", "-i", str(lst)]
        cmd += mask_args(masks, Path(tmp) / "mask.png") if masks else ["-map", "0:v", "-c", "copy"]
        cmd += ["-movflags", "+faststart", str(out)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                             preexec_fn=child_setup())
        if res.returncode != 0 or not out.exists():
            raise VigilError(f"ffmpeg could not build the clip: {res.stderr.strip()[-500:]}")
    return out
