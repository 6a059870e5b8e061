"""FFmpeg children: camera URLs on stdin (never in argv), dying with their parent, privacy masks burnt in.

- A camera URL carries its credentials, and ``/proc/PID/cmdline`` is readable by every local user,
  so FFmpeg reads its input from a one-line concat script on stdin (:func:`stream_input`): the
  argv says only ``-f concat -i pipe:0``. The stream is still copied (``-c copy``) as before.
- FFmpeg's own messages may quote the URL: pass them through the registry's ``redact_text``.
- A child gets ``PR_SET_PDEATHSIG`` (:func:`die_with_parent`): a kill -9 of Vigil kills its FFmpegs.
- A masked camera is the one case that re-encodes: :func:`mask_args` overlays a black image of
  the mask polygons, scaled to the picture whatever its size.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from vigil.core.errors import InputError

__all__ = ["Polygons", "child_setup", "mask_args", "mask_filter", "mask_image", "stream_input"]

Polygons = Sequence[Sequence[Sequence[float]]]
# What the concat demuxer may open for the one input it is given (RTSP over TCP/UDP/TLS, files, and
# http for the loopback GB/T 28181 media hub: vigil.gb28181.hub).
_PROTOCOLS = "pipe,file,rtsp,rtsps,rtp,srtp,tcp,udp,tls,crypto,http"
_MASK_SIZE = (1920, 1080)  # the mask is drawn once at this size, then scaled to the picture


def stream_input(url: str, *, io_timeout_s: float, transport: str = "tcp") -> tuple[list[str], bytes]:
    """FFmpeg input options reading ``url`` from stdin, and the script to write there (then close stdin)."""
    if any(ord(c) < 32 for c in url):
        raise InputError("a stream URL may not contain control characters")
    quoted = url.replace("'", "'\\''")
    lines = ["ffconcat version 1.0", f"file '{quoted}'"]
    if url.lower().startswith(("rtsp://", "rtsps://")):
        lines += [f"option rtsp_transport {transport}", f"option timeout {int(io_timeout_s * 1e6)}"]
    elif url.startswith("http://127.0.0.1:"):  # a GB/T 28181 channel's PS from the registrar's media hub
        # PS may add streams at any time, so FFmpeg probes for all of ``analyzeduration``: keep it short
        lines += [f"option timeout {int(io_timeout_s * 1e6)}", "option analyzeduration 500000"]
    probe = ["-analyzeduration", "500000"] if url.startswith("http://127.0.0.1:") else []
    args = [*probe, "-f", "concat", "-safe", "0", "-protocol_whitelist", _PROTOCOLS, "-i", "pipe:0"]
    return args, ("\n".join(lines) + "\n").encode()


def _die_with_parent(parent: int) -> None:  # pragma: no cover - runs in the child, between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the prctl
        os._exit(1)


def child_setup() -> Callable[[], None]:
    """A ``preexec_fn`` making the child die (SIGKILL) when the thread that started it ends.

    The signal follows the *thread*: start children from a thread that lives as long as they should.
    """
    return functools.partial(_die_with_parent, os.getpid())


def mask_image(polygons: Polygons, width: int, height: int, out: Path) -> Path:
    """A PNG, black and opaque inside the normalised polygons and transparent elsewhere."""
    import cv2  # heavy optional import, deferred until a mask is drawn

    img = np.zeros((height, width, 4), np.uint8)
    for poly in polygons:
        pts = np.array([[round(x * (width - 1)), round(y * (height - 1))] for x, y in poly], np.int32)
        cv2.fillPoly(img, [pts], (0, 0, 0, 255))
    cv2.imwrite(str(out), img)
    return out


def mask_filter(polygons: Polygons, png: Path) -> list[str]:
    """Options that black out ``polygons`` on input 0's video into the stream ``[out]``; writes ``png``.

    The mask image is the second input. Live view, exports and snapshots all mask through this one graph.
    """
    mask_image(polygons, *_MASK_SIZE, png)
    graph = "[1:v][0:v]scale2ref=flags=neighbor[m][v];[v][m]overlay=format=auto,format=yuv420p[out]"
    return ["-i", str(png), "-filter_complex", graph, "-map", "[out]"]


def mask_args(polygons: Polygons, png: Path, *, keyframe_s: float | None = None) -> list[str]:
    """Output options that black out ``polygons`` on input 0's video (H.264 re-encode); writes ``png``.

    The mask image is the second input. ``keyframe_s`` forces a keyframe that often (live HLS cuts).
    """
    args = [*mask_filter(polygons, png), "-c:v", "libx264", "-preset", "veryfast", "-crf", "20"]
    if keyframe_s:
        args += ["-tune", "zerolatency", "-force_key_frames", f"expr:gte(t,n_forced*{keyframe_s:g})"]
    return args
