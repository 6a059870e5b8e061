"""Keyframe sampling with PyAV: only keyframes are decoded, and every wait is bounded."""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np

from vigil.core.errors import NotReadyError
from vigil.registry.streams import check_reader_url, redact_text, redact_url, url_secrets

__all__ = ["redact", "sample_keyframes", "sample_timed"]


redact = redact_url  # the registry's redaction, under the name the VQD CLI uses


def sample_keyframes(source: str, n: int = 3, timeout: float = 10.0) -> list[np.ndarray]:
    """Decode the first ``n`` keyframes of a stream URL or file as BGR arrays, within about ``timeout`` s.

    Anything but a local file must be an rtsp(s) URL (:class:`InputError` otherwise: ``file://``,
    ``data:`` or ``http://`` sources are never opened). Raises :class:`NotReadyError` when the
    source cannot be opened (refused, timed out, rejected, not found). A source that opens but yields fewer frames in time returns
    what arrived, possibly nothing: that is a picture fault (signal loss), not an outage.
    """
    return [frame for _, frame in sample_timed(source, n, timeout)]


def sample_timed(source: str, n: int = 3, timeout: float = 10.0) -> list[tuple[float | None, np.ndarray]]:
    """Like :func:`sample_keyframes`, with each keyframe's presentation time in seconds (``None`` if unknown).

    The times let the caller see a stalled clock: keyframes that keep the same timestamp.
    """
    is_url = not Path(source).is_file()
    if is_url:
        check_reader_url(source)  # InputError for file://, data:, http:// and the like: never opened
    options = {"rtsp_transport": "tcp", "timeout": str(int(timeout * 1e6))} if source.startswith("rtsp") else {}
    try:
        container = av.open(source, options=options, timeout=(timeout, min(timeout, 5.0)) if is_url else None)
    except (av.FFmpegError, OSError) as exc:
        raise NotReadyError(redact_text(f"cannot open {source}: {_reason(exc)}", url_secrets(source))) from None
    frames: list[tuple[float | None, np.ndarray]] = []
    deadline = time.monotonic() + timeout
    try:
        if not container.streams.video:
            return frames
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        stream.thread_type = "AUTO"
        for packet in container.demux(stream):
            for frame in packet.decode():
                when = None if frame.time is None else float(frame.time)
                frames.append((when, frame.to_ndarray(format="bgr24")))
            if len(frames) >= n or time.monotonic() > deadline:
                break
    except (av.FFmpegError, OSError):
        pass  # a stream that breaks off mid-way: keep what arrived
    finally:
        container.close()
    return frames[:n]


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[-1].strip() or type(exc).__name__
