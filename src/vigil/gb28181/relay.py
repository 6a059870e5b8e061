"""Streams relayed to an upper platform: from the GB device below, or from the camera's RTSP stream.

Either way the upper platform receives RTP/PS at its ``c=``/``m=`` with the SSRC it asked for. A GB
device is INVITEd to send to a relay port that rewrites the SSRC (:class:`~.media.RtpRelay`); an RTSP
camera's video is remuxed without re-encoding (``-c copy``) into FFmpeg's ``mpeg`` muxer, whose output
goes out as RTP (:func:`~.media.rtsp_to_ps_rtp`, in a worker thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from vigil.core.crypto import CredentialBox
from vigil.core.errors import InputError, NotFoundError, NotReadyError
from vigil.core.models import Camera
from vigil.gb28181 import store
from vigil.gb28181.dialog import Dialog
from vigil.gb28181.media import RtpRelay, rtsp_to_ps_rtp
from vigil.gb28181.server import GbServer
from vigil.registry.streams import stream_url_with_credentials

__all__ = ["Relay", "start_relay"]


@dataclass
class Relay:
    """One relayed stream; ``port`` is where its RTP leaves from (for the SDP answer)."""

    port: int
    dialog: Dialog | None = None
    transport: asyncio.BaseTransport | None = None
    stop: threading.Event | None = None
    worker: asyncio.Future[int] | None = None

    async def close(self, server: GbServer) -> None:
        if self.transport is not None:
            self.transport.close()
        if self.stop is not None:
            self.stop.set()
        if self.dialog is not None:
            with contextlib.suppress(Exception):
                await server.bye(self.dialog)
        if self.worker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.worker, 10)


def _camera_url(session: Session, box: CredentialBox, camera_id: str) -> str | None:
    cam = session.get(Camera, camera_id)
    if cam is None:
        return None
    try:
        return stream_url_with_credentials(cam, box)
    except (NotFoundError, InputError):
        return None


async def start_relay(server: GbServer, channel_id: str, dest: tuple[str, int], ssrc: int, *, start: int = 0,
                      end: int = 0, on_end: Callable[[], None] | None = None) -> Relay:
    """Start ``channel_id``'s stream towards ``dest``; raises :class:`NotReadyError` if it cannot.

    ``start``/``end`` (epoch seconds) relay a playback from the GB device below, which keeps the
    recording; ``on_end`` is called when the device says it has ended (MediaStatus 121). A camera
    without a GB device below has no playback here (:class:`InputError`).
    """
    if server.vigil is None:
        raise NotReadyError("the registrar has no registry to find the channel in")
    vigil = server.vigil
    device_id = await server.in_db(store.device_of_channel, channel_id)
    loop = asyncio.get_running_loop()
    if device_id is not None and device_id in server.registrar.sessions:
        transport, _ = await loop.create_datagram_endpoint(lambda: RtpRelay(dest, ssrc),
                                                           local_addr=(server.config.host, 0))
        port = transport.get_extra_info("sockname")[1]
        try:
            d = await server.invite(device_id, channel_id, server.config.host, port, start=start, end=end)
        except NotReadyError:
            transport.close()
            raise
        if end and on_end is not None:
            server.watch_media_status(d, lambda kind: on_end() if kind == "121" else None)
        return Relay(port, dialog=d, transport=transport)
    if end:
        raise InputError(f"channel {channel_id}: playback is relayed from GB/T 28181 devices below only")
    url = await server.in_db(_camera_url, vigil.box, channel_id)
    if url is None:
        raise NotReadyError(f"channel {channel_id} has no registered GB/T 28181 device and no stream URL")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((server.config.host, 0))
    stop = threading.Event()
    worker = loop.run_in_executor(None, rtsp_to_ps_rtp, url, sock, dest, ssrc, stop)
    return Relay(sock.getsockname()[1], stop=stop, worker=worker)
