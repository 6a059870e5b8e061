"""Streams relayed to an upper platform: from the GB device below, or from the camera's RTSP stream.

Either way the upper platform receives RTP/PS at its ``c=``/``m=`` with the SSRC it asked for. A GB
device is INVITEd to send to a relay port that rewrites the SSRC (:class:`~.media.RtpRelay`); an RTSP
camera's video is remuxed without re-encoding (``-c copy``) into FFmpeg's ``mpeg`` muxer, whose output
goes out as RTP (:func:`~.media.rtsp_to_ps_rtp`, in a worker thread).

Over UDP the packets go to the upper's ``c=``/``m=``. Over TCP (RFC 4571 framing,
:class:`~.media.RtpTcpSender`) the upper's ``a=setup`` decides who connects: ``passive`` (it listens)
has Vigil connect there before the stream starts; ``active`` (it connects) has Vigil listen on the port
its answer gives, holding the first packets until the connection is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
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
from vigil.gb28181.media import RtpRelay, RtpTcpSender, open_rtp_udp, rtsp_to_ps_rtp
from vigil.gb28181.server import GbServer
from vigil.registry.streams import stream_url_with_credentials

__all__ = ["Relay", "start_relay"]


@dataclass
class Relay:
    """One relayed stream; ``port`` is where its RTP leaves from (for the SDP answer).

    ``setup`` is Vigil's TCP role for the answer ('active': it connected; 'passive': it listens); '' is UDP.
    """

    port: int
    dialog: Dialog | None = None
    transport: asyncio.BaseTransport | None = None
    stop: threading.Event | None = None
    worker: asyncio.Future[int] | None = None
    tcp: RtpTcpSender | None = None
    setup: str = ""

    async def close(self, server: GbServer) -> None:
        if self.transport is not None:
            self.transport.close()
        if self.tcp is not None:
            self.tcp.close()
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


async def _tcp_out(host: str, dest: tuple[str, int], upper_setup: str) -> tuple[RtpTcpSender, str]:
    """The TCP connection to the upper platform: Vigil connects to a listening upper, or listens for it."""
    sender = RtpTcpSender()
    if upper_setup == "active":
        await sender.listen(host)
        return sender, "passive"
    try:
        await sender.connect(*dest)
    except (OSError, TimeoutError) as exc:
        sender.close()
        why = "timed out" if isinstance(exc, TimeoutError) else "refused"
        raise NotReadyError(f"TCP media {dest[0]}:{dest[1]} {why}") from None  # short: it goes in a SIP reason
    return sender, "active"


async def start_relay(server: GbServer, channel_id: str, dest: tuple[str, int], ssrc: int, *, start: int = 0,
                      end: int = 0, on_end: Callable[[], None] | None = None, tcp: str = "") -> Relay:
    """Start ``channel_id``'s stream towards ``dest``; raises :class:`NotReadyError` if it cannot.

    ``tcp`` is the upper's ``a=setup`` over TCP ('passive': it listens at ``dest``; 'active': it
    connects); '' is UDP. ``start``/``end`` (epoch seconds) relay a playback from the GB device
    below, which keeps the recording; ``on_end`` is called when the device says it has ended
    (MediaStatus 121). A camera without a GB device below has no playback here (:class:`InputError`).
    """
    if server.vigil is None:
        raise NotReadyError("the registrar has no registry to find the channel in")
    if tcp not in ("", "active", "passive"):
        raise InputError(f"a=setup:{tcp[:20]} is not understood (active or passive)")
    vigil = server.vigil
    device_id = await server.in_db(store.device_of_channel, channel_id)
    below = device_id is not None and device_id in server.registrar.sessions
    if end and not below:
        raise InputError(f"channel {channel_id}: playback is relayed from GB/T 28181 devices below only")
    url = None if below else await server.in_db(_camera_url, vigil.box, channel_id)
    if not below and url is None:
        raise NotReadyError(f"channel {channel_id} has no registered GB/T 28181 device and no stream URL")
    loop, host = asyncio.get_running_loop(), server.config.host
    sender, setup = await _tcp_out(host, dest, tcp) if tcp else (None, "")
    if below:
        assert device_id is not None
        transport, udp_port = await open_rtp_udp(
            lambda: RtpRelay(dest, ssrc, sender.send if sender is not None else None), host)
        try:
            d = await server.invite(device_id, channel_id, host, udp_port, start=start, end=end)
        except NotReadyError:
            transport.close()
            if sender is not None:
                sender.close()
            raise
        if end and on_end is not None:
            server.watch_media_status(d, lambda kind: on_end() if kind == "121" else None)
        port = sender.local_port if sender is not None else udp_port
        return Relay(port, dialog=d, transport=transport, tcp=sender, setup=setup)
    assert url is not None
    stop = threading.Event()
    if sender is not None:
        tcp_sender = sender

        def send(pkt: bytes) -> None:
            try:
                loop.call_soon_threadsafe(tcp_sender.send, pkt)
            except RuntimeError:  # the event loop is gone: nobody is sending any more
                stop.set()

        worker = loop.run_in_executor(None, functools.partial(rtsp_to_ps_rtp, url, send, ssrc, stop))
        return Relay(sender.local_port, stop=stop, worker=worker, tcp=sender, setup=setup)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))

    def send_udp(pkt: bytes) -> None:
        sock.sendto(pkt, dest)

    worker = loop.run_in_executor(None, functools.partial(
        rtsp_to_ps_rtp, url, send_udp, ssrc, stop, done=sock.close))
    return Relay(sock.getsockname()[1], stop=stop, worker=worker)
