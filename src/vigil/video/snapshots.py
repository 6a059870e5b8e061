"""A still picture of a camera now (JPEG), with its privacy masks blacked out as live view and exports do.

The console draws zones, lines and masks on it. FFmpeg reads the stream URL from stdin, never from argv.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from vigil.access.audit import record
from vigil.access.guard import check_permission
from vigil.access.users import Principal
from vigil.core.context import Vigil
from vigil.core.errors import NotReadyError
from vigil.video.ffmpeg import Polygons, mask_filter, stream_input
from vigil.video.masks import camera_in_scope, mask_polygons
from vigil.video.recorder import camera_url

__all__ = ["grab_jpeg", "snapshot"]


def grab_jpeg(url: str, *, masks: Polygons = (), io_timeout_s: float = 10.0, timeout_s: float = 30.0,
              ffmpeg: str = "ffmpeg") -> bytes:
    """One frame of the stream at ``url`` as JPEG, ``masks`` blacked out; NotReadyError if there is none."""
    inp, script = stream_input(url, io_timeout_s=io_timeout_s)
    with tempfile.TemporaryDirectory(prefix="vigil-snap-") as tmp:
        video = mask_filter(masks, Path(tmp) / "mask.png") if masks else ["-map", "0:v:0"]
        argv = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", *inp, *video,
                "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-f", "image2pipe", "pipe:1"]
        try:
            res = subprocess.run(argv, input=script, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise NotReadyError(f"no picture within {timeout_s:g} s") from None
    if res.returncode != 0 or not res.stdout.startswith(b"\xff\xd8"):
        raise NotReadyError("no picture: the camera's stream could not be read")
    return res.stdout


def snapshot(v: Vigil, p: Principal, camera_id: str, *, masked: bool = True) -> bytes:
    """A JPEG of the camera now. Unmasked pictures are for those who edit masks (``registry.write``); audited.

    The database is left before FFmpeg starts: a slow camera holds no transaction.
    """
    check_permission(p, "video.live")
    if not masked:
        check_permission(p, "registry.write")
    with v.db.session() as session:
        cam = camera_in_scope(session, p, camera_id)
        url = camera_url(v, cam)
        masks = mask_polygons(session, cam.id) if masked else []
        record(session, p.name, "video.snapshot", f"camera:{cam.id}", region=cam.region_code, masked=masked)
    try:
        return grab_jpeg(url, masks=masks)
    except NotReadyError as e:
        raise NotReadyError(f"camera {camera_id}: {e}") from None
