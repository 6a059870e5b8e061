"""Media from GB/T 28181 devices: RTP/PS received over UDP, PS demuxed by FFmpeg's ``mpeg`` demuxer (PyAV).

:class:`RtpPsReceiver` listens on one port per stream. It locks onto the first sender and SSRC; an SSRC
other than the one asked for in ``y=`` is accepted (many GB-2022 devices ignore it) and reported.
Packets are put back in sequence order within a small window; what never comes is counted as lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
from av.bitstream import BitStreamFilterContext

__all__ = ["PsSummary", "Rfc4571Framer", "RtpPacket", "RtpPsReceiver", "RtpPsWriter", "RtpRelay", "RtpTcpSender",
           "demux_ps", "parse_rtp", "frame_rfc4571", "open_rtp_udp", "read_rtp_tcp", "rtsp_to_ps_rtp", "serve_rtp_tcp"]

log = logging.getLogger("vigil.gb28181")


@dataclass(frozen=True)
class RtpPacket:
    """The fields of one RTP packet that matter here."""

    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket | None:
    """Parse an RTP packet (RFC 3550); None if it is not version 2 or is cut short."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    cc, has_ext, padded = data[0] & 0x0F, data[0] & 0x10, data[0] & 0x20
    seq, ts, ssrc = struct.unpack_from(">HII", data, 2)
    start = 12 + 4 * cc
    if has_ext:
        if len(data) < start + 4:
            return None
        start += 4 + 4 * struct.unpack_from(">H", data, start + 2)[0]
    end = len(data) - (data[-1] if padded else 0)
    if start > end:
        return None
    return RtpPacket(data[1] & 0x7F, seq, ts, ssrc, bool(data[1] & 0x80), data[start:end])


class RtpPsReceiver(asyncio.DatagramProtocol):
    """One stream's RTP receiver; the in-order PS bytes go to ``sink``."""

    def __init__(self, sink: Callable[[bytes], None], *, expected_ssrc: int | None = None,
                 window: int = 64) -> None:
        self.sink, self.expected_ssrc, self.window = sink, expected_ssrc, window
        self.ssrc: int | None = None
        self.source: tuple[str, int] | None = None
        self.received = self.lost = self.dropped = 0
        self._next: int | None = None
        self._held: dict[int, bytes] = {}

    @property
    def ssrc_mismatch(self) -> bool:
        return self.ssrc is not None and self.expected_ssrc is not None and self.ssrc != self.expected_ssrc

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        pkt = parse_rtp(data)
        if pkt is None or (self.source is not None and addr != self.source) or (
                self.ssrc is not None and pkt.ssrc != self.ssrc):
            self.dropped += 1
            return
        if self.source is None:
            self.source, self.ssrc, self._next = addr, pkt.ssrc, pkt.seq
            if self.ssrc_mismatch:
                log.info("gb28181: device sends SSRC %d instead of %d; accepted", pkt.ssrc, self.expected_ssrc)
        assert self._next is not None
        if (pkt.seq - self._next) & 0xFFFF >= 0x8000:  # behind what was delivered: too late (or a duplicate)
            self.dropped += 1
            return
        self.received += 1
        if len(self._held) < 4 * self.window:
            self._held[pkt.seq] = pkt.payload
        self._drain()

    def _drain(self) -> None:
        assert self._next is not None
        while True:
            payload = self._held.pop(self._next, None)
            if payload is None:
                if len(self._held) <= self.window:
                    return
                self.lost += 1  # the window is full: give up on the missing packet
            else:
                self.sink(payload)
            self._next = (self._next + 1) & 0xFFFF

    def flush(self) -> None:
        """At the end of a stream: deliver what is held, in order, skipping the gaps."""
        while self._held and self._next is not None:
            nxt = self._next
            seq = min(self._held, key=lambda q: (q - nxt) & 0xFFFF)
            self.lost += (seq - nxt) & 0xFFFF
            self.sink(self._held.pop(seq))
            self._next = (seq + 1) & 0xFFFF


class Rfc4571Framer:
    """RTP over TCP (RFC 4571): each packet is preceded by its 2-byte length."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out = []
        while len(self._buf) >= 2:
            n = struct.unpack_from(">H", self._buf)[0]
            if len(self._buf) < 2 + n:
                break
            out.append(bytes(self._buf[2:2 + n]))
            del self._buf[:2 + n]
        return out


def frame_rfc4571(packet: bytes) -> bytes:
    """One RTP packet framed for TCP."""
    return struct.pack(">H", len(packet)) + packet


async def read_rtp_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, receiver: RtpPsReceiver) -> None:
    """Feed RFC 4571-framed RTP from one TCP connection to ``receiver`` until it closes (either side's connect)."""
    peer = writer.get_extra_info("peername")[:2]
    framer = Rfc4571Framer()
    try:
        while data := await reader.read(65_536):
            for pkt in framer.feed(data):
                receiver.datagram_received(pkt, peer)
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


RTP_RCVBUF = 4 << 20  # an IDR frame arrives as a burst of ~100 packets: room for several in the kernel


async def open_rtp_udp(protocol: Callable[[], asyncio.DatagramProtocol],
                       host: str = "127.0.0.1") -> tuple[asyncio.DatagramTransport, int]:
    """UDP media: a socket on a free port with a large receive buffer (a busy loop must not drop a burst)."""
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(protocol, local_addr=(host, 0))
    with contextlib.suppress(OSError):  # the kernel caps it at net.core.rmem_max
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RTP_RCVBUF)
    return transport, transport.get_extra_info("sockname")[1]


async def serve_rtp_tcp(receiver: RtpPsReceiver, host: str = "127.0.0.1") -> tuple[asyncio.Server, int]:
    """TCP-passive media: listen on a free port; the device connects and sends RFC 4571-framed RTP.

    One connection is served (the stream's); later ones are closed.
    """
    busy = False

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal busy
        if busy:
            writer.close()
            return
        busy = True
        await read_rtp_tcp(reader, writer, receiver)

    server = await asyncio.start_server(handle, host, 0)
    return server, server.sockets[0].getsockname()[1]


class RtpTcpSender:
    """RTP sent over one TCP connection with RFC 4571 framing (the cascade relay over TCP).

    Either side connects: :meth:`connect` when the receiver listens (its ``a=setup:passive``), or
    :meth:`listen` when it connects (its ``a=setup:active``). Packets sent before the connection is up
    are held, up to ``limit`` bytes; beyond that, or while ``limit`` bytes wait to be written, they are
    dropped and counted. Runs on the event loop; another thread calls :meth:`send` through
    ``loop.call_soon_threadsafe``.
    """

    def __init__(self, limit: int = 4 << 20) -> None:
        self.limit = limit
        self.writer: asyncio.StreamWriter | None = None
        self.sent = self.dropped = 0
        self.closed = False
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._server: asyncio.Server | None = None

    @property
    def local_port(self) -> int:
        """The listening port, or the connected socket's own port."""
        if self._server is not None:
            return int(self._server.sockets[0].getsockname()[1])
        return int(self.writer.get_extra_info("sockname")[1]) if self.writer is not None else 0

    def send(self, packet: bytes) -> None:
        framed, w = frame_rfc4571(packet), self.writer
        if self.closed or (w is not None and w.is_closing()):
            self.dropped += 1
        elif w is None:
            if self._held_bytes + len(framed) > self.limit:
                self.dropped += 1
                return
            self._held.append(framed)
            self._held_bytes += len(framed)
        elif w.transport.get_write_buffer_size() > self.limit:
            self.dropped += 1
        else:
            w.write(framed)
            self.sent += 1

    def _attach(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        for framed in self._held:
            writer.write(framed)
            self.sent += 1
        self._held.clear()
        self._held_bytes = 0

    async def connect(self, host: str, port: int, *, timeout: float = 5.0) -> None:
        """Connect to the receiver's ``c=``/``m=``; raises ``OSError`` or ``TimeoutError``."""
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        self._attach(writer)

    async def listen(self, host: str) -> int:
        """Listen on a free port for the receiver's one connection; the port."""

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if self.writer is not None or self.closed:
                writer.close()
                return
            self._attach(writer)
            with contextlib.suppress(ConnectionError, OSError):
                while await reader.read(4096):  # the receiver's RTCP, if any, is not used
                    pass

        self._server = await asyncio.start_server(handle, host, 0)
        return self.local_port

    def close(self) -> None:
        """Stop sending and close the connection (and the listening socket)."""
        self.closed = True
        self._held.clear()
        if self._server is not None:
            self._server.close()
        if self.writer is not None:
            self.writer.close()


@dataclass(frozen=True)
class PsSummary:
    """What the PS demuxer found."""

    video_codec: str
    width: int
    height: int
    video_packets: int
    keyframes: int
    audio_codec: str = ""


def demux_ps(data: bytes) -> PsSummary:
    """Demux an MPEG-PS byte string (with or without a PSM) with FFmpeg's ``mpeg`` demuxer."""
    with av.open(io.BytesIO(data), mode="r", format="mpeg") as container:
        video = next((s for s in container.streams.video), None)
        audio = next((s for s in container.streams if s.type == "audio"), None)
        packets = keys = 0
        for pkt in container.demux():
            if video is not None and pkt.stream_index == video.index and pkt.size:
                packets += 1
                keys += bool(pkt.is_keyframe)
        if video is None:
            return PsSummary("", 0, 0, 0, 0, audio.codec_context.name if audio else "")
        ctx = video.codec_context
        return PsSummary(ctx.name, video.width, video.height, packets, keys,
                         audio.codec_context.name if audio else "")


class RtpRelay(asyncio.DatagramProtocol):
    """Forwards one stream's RTP to ``dest`` with the SSRC the receiver asked for (cascade relay).

    It locks onto the first sender; anything that is not RTP, or comes from elsewhere, is dropped.
    ``send`` (e.g. :meth:`RtpTcpSender.send`) takes the rewritten packets instead of UDP to ``dest``.
    """

    def __init__(self, dest: tuple[str, int], ssrc: int, send: Callable[[bytes], None] | None = None) -> None:
        self.dest, self.ssrc, self.send = dest, ssrc, send
        self.source: tuple[str, int] | None = None
        self.forwarded = self.dropped = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        if len(data) < 12 or data[0] >> 6 != 2 or (self.source is not None and addr != self.source):
            self.dropped += 1
            return
        self.source = addr
        out = data[:8] + struct.pack(">I", self.ssrc) + data[12:]
        if self.send is not None:
            self.send(out)
        else:
            assert self.transport is not None
            self.transport.sendto(out, self.dest)
        self.forwarded += 1


class RtpPsWriter(io.RawIOBase):
    """A write-only file for FFmpeg's ``mpeg`` muxer: the PS bytes leave as RTP packets (PT 96), each given to ``send``."""

    def __init__(self, send: Callable[[bytes], None], ssrc: int, *, size: int = 1400) -> None:
        super().__init__()
        self.send, self.ssrc, self.size = send, ssrc, size
        self.seq = self.packets = 0
        self._buf = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buf += bytes(data)
        while len(self._buf) >= self.size:
            self._send(bytes(self._buf[:self.size]), last=False)
            del self._buf[:self.size]
        return len(data)

    def _send(self, chunk: bytes, *, last: bool) -> None:
        header = struct.pack(">BBHII", 0x80, (0x80 if last else 0) | 96, self.seq & 0xFFFF,
                             (self.packets * 3600) & 0xFFFFFFFF, self.ssrc)
        self.send(header + chunk)
        self.seq += 1
        self.packets += 1

    def drain(self) -> None:
        """Send what is left."""
        if self._buf:
            self._send(bytes(self._buf), last=True)
            self._buf.clear()


def rtsp_to_ps_rtp(url: str, send: Callable[[bytes], None], ssrc: int, stop: threading.Event,
                   *, timeout: float = 10.0, done: Callable[[], None] | None = None) -> int:
    """Remux an RTSP camera's video (no re-encode) into PS and give it as RTP packets to ``send`` until ``stop``.

    Returns the packets sent; ``done`` is called at the end. Blocking: run it in a worker thread.
    ``url`` carries credentials: it is never logged.
    """
    writer = RtpPsWriter(send, ssrc)
    try:
        with av.open(url, mode="r", options={"rtsp_transport": "tcp"}, timeout=timeout) as src:
            vin = src.streams.video[0]
            # RTSP sends SPS/PPS out of band (SDP); PS needs them in band before each keyframe
            extra = BitStreamFilterContext("dump_extra=freq=keyframe", vin)
            with av.open(writer, mode="w", format="mpeg", buffer_size=8 * 1400) as out:
                vout = out.add_stream_from_template(vin)
                for raw in src.demux(vin):
                    if stop.is_set():
                        break
                    for pkt in extra.filter(raw) if raw.dts is not None else ():
                        pkt.stream = vout
                        out.mux(pkt)
        writer.drain()
    except av.FFmpegError as exc:
        log.warning("gb28181: RTSP relay ended: %s", type(exc).__name__)
    finally:
        if done is not None:
            done()
    return writer.packets
