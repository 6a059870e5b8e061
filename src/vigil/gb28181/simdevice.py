"""Test peers: a simulated device (:class:`SimDevice`), and PS-over-RTP media made by FFmpeg's muxer."""

from __future__ import annotations

import asyncio
import io
import struct

import av
import numpy as np

from vigil.core.errors import InputError
from vigil.gb28181.agent import DeviceAgent, catalog_bodies
from vigil.gb28181.media import frame_rfc4571
from vigil.gb28181.sdp import answer, decode_sdp, parse_answer
from vigil.gb28181.sip import SipMessage

__all__ = ["SimDevice", "catalog_bodies", "ps_stream", "rtp_packets"]


class SimDevice(DeviceAgent):
    """A simulated camera or NVR on 127.0.0.1 (the tests' and the benchmark's device).

    Given ``media`` (PS bytes), it answers an INVITE with an SDP carrying ``answer_ssrc`` (its own,
    as many devices do) and sends the PS as RTP to the offer's address until the BYE.
    """

    media: bytes = b""
    answer_ssrc: str = "0999999999"
    _sending: asyncio.Task[None] | None = None

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
        tcp = "active" if want.transport == "TCP" else ""
        sdp = answer(self.device_id, host, port, self.answer_ssrc, tcp=tcp)
        ok = msg.response(200, "OK", to_tag=self._tag, extra=[("Contact", f"<sip:{self.device_id}@{host}:{port}>"),
                                                             ("Content-Type", "APPLICATION/SDP")], body=sdp.encode())
        self.transport.sendto(ok.to_bytes(), self.server)
        self._sending = asyncio.get_running_loop().create_task(self._send_media((want.ip, want.port), bool(tcp)))

    async def _send_media(self, dest: tuple[str, int], tcp: bool) -> None:
        assert self.transport is not None
        await asyncio.sleep(0.05)  # after the ACK
        writer = (await asyncio.open_connection(*dest))[1] if tcp else None  # TCP active: we connect
        for i, pkt in enumerate(rtp_packets(self.media, int(self.answer_ssrc))):
            if writer is not None:
                writer.write(frame_rfc4571(pkt))
                await writer.drain()
            else:
                self.transport.sendto(pkt, dest)
            if i % 20 == 19:
                await asyncio.sleep(0.002)
        if writer is not None:
            writer.close()


def ps_stream(frames: int = 20, *, width: int = 160, height: int = 120, noise: bool = False) -> bytes:
    """A short H.264 stream in MPEG-PS, made by FFmpeg's ``mpeg`` muxer (no PSM, like many devices).

    ``noise`` fills the pictures with random pixels: large frames (an IDR of a 640x480 noise picture
    is well over 64 KB).
    """
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mpeg") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
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
