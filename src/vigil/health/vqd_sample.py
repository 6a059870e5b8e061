"""Keyframe sampling with PyAV: only keyframes are decoded, and every wait is bounded."""

from __future__ import annotations

import time
from urllib.parse import quote, urlsplit, urlunsplit

import av
import numpy as np

from vigil.core.errors import NotReadyError

__all__ = ["redact", "sample_keyframes", "with_credentials"]


def with_credentials(url: str, username: str, password: str) -> str:
    """``url`` with ``username:password@`` inserted (unless it has credentials already)."""
    parts = urlsplit(url)
    if not username or parts.username or not parts.hostname:
        return url
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def sample_keyframes(source: str, n: int = 3, timeout: float = 10.0) -> list[np.ndarray]:
    """Decode the first ``n`` keyframes of a stream URL or file as BGR arrays, within about ``timeout`` s.

    Raises :class:`NotReadyError` when the source cannot be opened (refused, timed out,
    rejected, not found). A source that opens but yields fewer frames in time returns
    what arrived, possibly nothing: that is a picture fault (signal loss), not an outage.
    """
    is_url = "://" in source
    options = {"rtsp_transport": "tcp", "timeout": str(int(timeout * 1e6))} if source.startswith("rtsp") else {}
    try:
        container = av.open(source, options=options, timeout=(timeout, min(timeout, 5.0)) if is_url else None)
    except (av.FFmpegError, OSError) as exc:
        raise NotReadyError(f"cannot open {redact(source)}: {_reason(exc)}") from None
    frames: list[np.ndarray] = []
    deadline = time.monotonic() + timeout
    try:
        if not container.streams.video:
            return frames
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        stream.thread_type = "AUTO"
        for packet in container.demux(stream):
            for frame in packet.decode():
                frames.append(frame.to_ndarray(format="bgr24"))
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
