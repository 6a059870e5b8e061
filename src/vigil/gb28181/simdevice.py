"""Test peers: a simulated device (:class:`SimDevice`), and PS-over-RTP media made by FFmpeg's muxer."""

from __future__ import annotations

import asyncio
import io
import struct
from typing import Any

import av
import numpy as np

from vigil.core.errors import InputError
from vigil.gb28181.agent import DeviceAgent, catalog_bodies
from vigil.gb28181.media import frame_rfc4571
from vigil.gb28181.sdp import answer, decode_sdp, parse_answer
from vigil.gb28181.sip import SipMessage

__all__ = ["SimDevice", "catalog_bodies", "device_ps", "ps_stream", "rtp_packets"]


class SimDevice(DeviceAgent):
    """A simulated camera or NVR on 127.0.0.1 (the tests' and the benchmark's device).

    Given ``media`` (PS bytes), it answers an INVITE with an SDP carrying ``answer_ssrc`` (its own,
    as many devices do) and sends the PS as RTP to the offer's address until the BYE.
    """

    media: bytes = b""
    answer_ssrc: str = "0999999999"
    pace_s: float = 0.0  # > 0: send the media over that many seconds, as a camera does; else at once
    _sending: asyncio.Task[Any] | None = None
    _listener: asyncio.Server | None = None

    async def _answer(self, msg: SipMessage) -> None:
        if msg.method not in ("INVITE", "BYE") or not self.media:
            await super()._answer(msg)
            return
        assert self.transport is not None
        if msg.method == "BYE":
            if self._sending is not None:
                self._sending.cancel()
            self.transport.sendto(msg.response(200, "OK", to_tag=self._tag).to_bytes(), self.server)
            return
        try:
            want = parse_answer(decode_sdp(msg.body))
        except InputError:
            self.transport.sendto(msg.response(488, "Not Acceptable Here", to_tag=self._tag).to_bytes(), self.server)
            return
        host, port = self.local
        # TCP: the offer's setup is the platform's role; passive (it listens) makes us connect
        tcp = ("passive" if want.setup == "active" else "active") if want.transport == "TCP" else ""
        if tcp == "passive":  # TCP active platform: we listen, and send once it connects
            self._listener = await asyncio.start_server(self._serve_media, host, 0)
            port = self._listener.sockets[0].getsockname()[1]
        sdp = answer(self.device_id, host, port, self.answer_ssrc, tcp=tcp)
        ok = msg.response(200, "OK", to_tag=self._tag, extra=[("Contact", f"<sip:{self.device_id}@{host}:{port}>"),
                                                             ("Content-Type", "APPLICATION/SDP")], body=sdp.encode())
        self.transport.sendto(ok.to_bytes(), self.server)
        if tcp != "passive":
            self._sending = asyncio.get_running_loop().create_task(self._send_media((want.ip, want.port),
                                                                                    bool(tcp)))

    async def _serve_media(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._listener is not None:  # one stream per INVITE
            self._listener.close()
        self._sending = asyncio.current_task()
        await self._send_media(None, True, writer)

    async def _send_media(self, dest: tuple[str, int] | None, tcp: bool,
                          writer: asyncio.StreamWriter | None = None) -> None:
        assert self.transport is not None
        await asyncio.sleep(0.05)  # after the ACK
        if tcp and writer is None and dest is not None:  # TCP, platform passive: we connect
            writer = (await asyncio.open_connection(*dest))[1]
        packets = rtp_packets(self.media, int(self.answer_ssrc))
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i, pkt in enumerate(packets):
            if writer is not None:
                writer.write(frame_rfc4571(pkt))
                await writer.drain()
            elif dest is not None:
                self.transport.sendto(pkt, dest)
            if self.pace_s:
                await asyncio.sleep(max(0.0, t0 + self.pace_s * i / len(packets) - loop.time()))
            elif i % 20 == 19:
                await asyncio.sleep(0.002)
        if writer is not None:
            writer.close()


def ps_stream(frames: int = 20, *, width: int = 160, height: int = 120, noise: bool = False,
              gop: int = 0) -> bytes:
    """A short H.264 stream in MPEG-PS, made by FFmpeg's ``mpeg`` muxer (no PSM, like many devices).

    ``noise`` fills the pictures with random pixels: large frames (an IDR of a 640x480 noise picture
    is well over 64 KB). ``gop`` > 0 puts a keyframe every ``gop`` frames.
    """
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mpeg") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if gop:
            stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "bf": "0"}
        for i in range(frames):
            img = (rng.integers(0, 256, (height, width, 3), dtype=np.uint8) if noise
                   else np.full((height, width, 3), (i * 12) % 256, np.uint8))
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode())
    return buf.getvalue()


def rtp_packets(ps: bytes, ssrc: int, *, payload_type: int = 96, size: int = 1400, seq: int = 0) -> list[bytes]:
    """Cut a PS byte stream into RTP packets of ``size`` payload bytes."""
    out = []
    for i, start in enumerate(range(0, len(ps), size)):
        chunk = ps[start:start + size]
        last = start + size >= len(ps)
        out.append(struct.pack(">BBHII", 0x80, (0x80 if last else 0) | payload_type, (seq + i) & 0xFFFF,
                               i * 3600, ssrc) + chunk)
    return out


def _ps_units(ps: bytes) -> list[bytes]:
    """Split an MPEG-PS byte stream into its units (pack headers, system headers, PES packets)."""
    out, i = [], 0
    while i + 6 <= len(ps):
        if ps[i:i + 3] != b"\0\0\1":
            raise InputError(f"no MPEG-PS start code at byte {i}")
        code = ps[i + 3]
        if code == 0xBA:  # MPEG-2 pack header (14 bytes + stuffing), or MPEG-1 (12 bytes)
            n = 14 + (ps[i + 13] & 7) if ps[i + 4] >> 6 == 1 else 12
        elif code == 0xB9:
            n = 4
        else:
            n = 6 + int.from_bytes(ps[i + 4:i + 6], "big")
        out.append(ps[i:i + n])
        i += n
    return out


def _psm(video_id: int) -> bytes:
    """A program stream map as GB/T 28181 devices send it: H.264 (0x1B) and G.711A audio (0x90, id 0xC0)."""
    es = bytes([0x1B, video_id, 0, 0, 0x90, 0xC0, 0, 0])
    body = bytes([0x80, 0x01, 0, 0]) + len(es).to_bytes(2, "big") + es + b"\0\0\0\0"  # CRC not checked
    return b"\0\0\1\xbc" + len(body).to_bytes(2, "big") + body


def device_ps(ps: bytes, *, psm: bool = True, audio: bool = False) -> bytes:
    """Make FFmpeg's PS look like a device's: a PSM after the system header, G.711A audio without PTS.

    ``audio`` adds a 160-byte audio PES (stream 0xC0, MPEG-2 header with no PTS, as some devices
    send it) after every video PES.
    """
    out = bytearray()
    for unit in _ps_units(ps):
        out += unit
        code = unit[3]
        if code == 0xBB and psm:
            video = next((u[3] for u in _ps_units(ps) if 0xE0 <= u[3] <= 0xEF), 0xE0)
            out += _psm(video)
        elif 0xE0 <= code <= 0xEF and audio:
            payload = bytes([0x80, 0x00, 0x00]) + b"\xd5" * 160
            out += b"\0\0\1\xc0" + len(payload).to_bytes(2, "big") + payload
    return bytes(out)
