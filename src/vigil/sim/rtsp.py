"""The RTSP side of one simulated camera: an :class:`asyncio.Protocol` per TCP connection.

It answers OPTIONS, DESCRIBE (digest auth, RFC 2617), SETUP/PLAY (H.264 over RTP/TCP
interleaved), GET_PARAMETER and TEARDOWN, and ONVIF SOAP over HTTP on the same port.
Connection faults (:data:`vigil.sim.faults.CONNECTION_FAULTS`) are read on every request,
so changing a camera's faults takes effect at once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import re
import secrets
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from vigil.sim.faults import PICTURE_FAULTS
from vigil.sim.stream import Clip, interleave, rtcp_sender_report, rtp_packets

__all__ = ["CameraProtocol", "SimCamera", "SimContext"]

REALM = "Vigil Simulated Camera"
PATHS = ("/Streaming/Channels/101", "/Streaming/Channels/102")
# SPS/PPS of the 768x576 vtest clip (High profile): the SDP of cameras that do not stream.
_STATIC_FMTP = ("96 packetization-mode=1;profile-level-id=64001F;"
                "sprop-parameter-sets=Z2QAH6y0BgCTQgAAAwACAAADACgeMGVA,aO8Pyw==")
_AUTH_RE = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


@dataclass
class SimCamera:
    """One simulated camera: where it listens, its credentials, whether it streams, its faults.

    ``auth`` is the RTSP authentication it demands: ``digest`` (RFC 2617), or ``basic`` like some
    older cameras (the password then crosses the network in clear, base64-encoded).
    """

    index: int
    host: str
    port: int
    username: str
    password: str
    streaming: bool = False
    onvif: bool = False
    faults: frozenset[str] = frozenset()
    auth: str = "digest"

    @property
    def url(self) -> str:
        return f"rtsp://{self.host}:{self.port}{PATHS[0]}"

    @property
    def sub_url(self) -> str:
        return f"rtsp://{self.host}:{self.port}{PATHS[1]}"

    @property
    def onvif_url(self) -> str:
        return f"http://{self.host}:{self.port}/onvif/device_service" if self.onvif else ""

    @property
    def serial(self) -> str:
        return f"SIM{self.index:08d}"

    @property
    def live_password(self) -> str:
        """The password the camera accepts now (changed while it has the ``auth`` fault)."""
        return self.password + "-changed" if "auth" in self.faults else self.password

    @property
    def picture_fault(self) -> str:
        return next((f for f in PICTURE_FAULTS if f in self.faults), "")

    def to_json(self) -> dict[str, object]:
        return {"index": self.index, "host": self.host, "port": self.port, "url": self.url,
                "sub_url": self.sub_url, "onvif_url": self.onvif_url, "username": self.username,
                "password": self.password, "streaming": self.streaming, "faults": sorted(self.faults),
                "auth": self.auth}


@dataclass
class SimContext:
    """What every camera of a fleet shares: clip lookup, timing of slow answers, the live clock."""

    clip_for: Callable[[SimCamera], Clip] | None = None
    slow_s: float = 5.0
    t0: float = field(default_factory=lambda: asyncio.get_event_loop().time())


def _md5(s: str) -> str:
    return hashlib.md5(s.encode(), usedforsecurity=False).hexdigest()


def check_digest(header: str, method: str, user: str, password: str, nonce: str) -> bool:
    """True if an ``Authorization: Digest ...`` header answers our challenge with the right password."""
    if not header.lower().startswith("digest "):
        return False
    p = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in _AUTH_RE.finditer(header)}
    if p.get("username") != user or p.get("nonce") != nonce or p.get("realm") != REALM:
        return False
    ha1, ha2 = _md5(f"{user}:{REALM}:{password}"), _md5(f"{method}:{p.get('uri', '')}")
    if p.get("qop"):
        want = _md5(f"{ha1}:{nonce}:{p.get('nc', '')}:{p.get('cnonce', '')}:{p['qop']}:{ha2}")
    else:
        want = _md5(f"{ha1}:{nonce}:{ha2}")
    return secrets.compare_digest(want, p.get("response", ""))


def check_basic(header: str, user: str, password: str) -> bool:
    """True if an ``Authorization: Basic ...`` header carries exactly ``user:password``."""
    if not header.lower().startswith("basic "):
        return False
    try:
        given = base64.b64decode(header[6:].strip(), validate=True)
    except ValueError:
        return False
    return secrets.compare_digest(given, f"{user}:{password}".encode())


class CameraProtocol(asyncio.Protocol):
    """One client connection to a simulated camera."""

    def __init__(self, cam: SimCamera, ctx: SimContext) -> None:
        self.cam, self.ctx = cam, ctx
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.nonce = secrets.token_hex(16)
        self.session = ""
        self.channel = 0
        self.streamer: asyncio.Task[None] | None = None

    # -- connection ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        if "dropped" in self.cam.faults:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()  # RST before any answer
        elif "offline" in self.cam.faults:
            self.transport.pause_reading()  # accepted before the fault: never answer

    def connection_lost(self, exc: Exception | None) -> None:
        if self.streamer:
            self.streamer.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > 65536:
            self._close()
            return
        if self.buf[:5] in (b"POST ", b"GET /"):
            self._http()
            return
        while self.transport is not None:
            if self.buf[:1] == b"$":  # interleaved RTCP from the client (receiver reports): skip it
                if len(self.buf) < 4 or len(self.buf) < 4 + int.from_bytes(self.buf[2:4], "big"):
                    return
                self.buf = self.buf[4 + int.from_bytes(self.buf[2:4], "big"):]
                continue
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep:
                return
            length = _content_length(head)
            if len(rest) < length:
                return
            self.buf = rest[length:]
            self._request(head.decode("latin-1"))

    # -- output ----------------------------------------------------------------------------
    def _send(self, data: bytes, *, close: bool = False) -> None:
        if "slow" in self.cam.faults:
            asyncio.get_running_loop().call_later(self.ctx.slow_s, self._write, data, close)
        else:
            self._write(data, close)

    def _write(self, data: bytes, close: bool = False) -> None:
        if self.transport is not None:
            self.transport.write(data)
            if close:
                self._close()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def _reply(self, code: int, text: str, cseq: str, headers: tuple[str, ...] = (), body: bytes = b"",
               close: bool = False) -> None:
        lines = [f"RTSP/1.0 {code} {text}", f"CSeq: {cseq}", "Server: Vigil-Sim/1.0", *headers]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self._send(("\r\n".join(lines) + "\r\n\r\n").encode() + body, close=close)

    # -- RTSP ------------------------------------------------------------------------------
    def _request(self, head: str) -> None:
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        hdr = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdr[k.strip().lower()] = v.strip()
        cseq = hdr.get("cseq", "0")
        if "garbage" in self.cam.faults:
            self._garbage()
            return
        if len(parts) != 3 or not parts[2].startswith("RTSP/1."):
            self._reply(400, "Bad Request", cseq, close=True)
            return
        method, uri = parts[0], parts[1]
        if method == "OPTIONS":
            self._reply(200, "OK", cseq, ("Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER",))
            return
        if method not in ("DESCRIBE", "SETUP", "PLAY", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER"):
            self._reply(501, "Not Implemented", cseq)
            return
        if not self._authorized(hdr.get("authorization", ""), method):
            self._reply(401, "Unauthorized", cseq, (self._challenge(),))
            return
        path = "/" + uri.split("://", 1)[-1].partition("/")[2]
        if method == "DESCRIBE":
            if path.rstrip("/") not in PATHS:
                self._reply(404, "Not Found", cseq)
                return
            sdp = self._sdp().encode()
            self._reply(200, "OK", cseq, ("Content-Type: application/sdp", f"Content-Base: {uri.rstrip('/')}/"), sdp)
        elif method == "SETUP":
            self._setup(cseq, hdr.get("transport", ""))
        elif method == "PLAY":
            self._play(cseq, uri)
        elif method == "TEARDOWN":
            self._reply(200, "OK", cseq, close=True)
        else:
            self._reply(200, "OK", cseq, (f"Session: {self.session}",) if self.session else ())

    def _authorized(self, header: str, method: str) -> bool:
        if self.cam.auth == "basic":
            return check_basic(header, self.cam.username, self.cam.live_password)
        return check_digest(header, method, self.cam.username, self.cam.live_password, self.nonce)

    def _challenge(self) -> str:
        if self.cam.auth == "basic":
            return f'WWW-Authenticate: Basic realm="{REALM}"'
        return f'WWW-Authenticate: Digest realm="{REALM}", nonce="{self.nonce}"'

    def _garbage(self) -> None:
        if self.cam.index % 2:
            self._send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", close=True)
        else:
            self._send(random.Random(self.cam.index).randbytes(96) + b"\r\n\r\n", close=True)

    def _sdp(self) -> str:
        host = self.cam.host
        fmtp, rate = _STATIC_FMTP, 10.0
        if self.cam.streaming and self.ctx.clip_for is not None:
            clip = self.ctx.clip_for(self.cam)
            fmtp, rate = clip.fmtp(), clip.fps
        return (f"v=0\r\no=- {self.cam.index + 1} 1 IN IP4 {host}\r\ns=Vigil simulated camera\r\n"
                f"c=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\na=range:npt=now-\r\n"
                f"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:{fmtp}\r\n"
                f"a=framerate:{rate:g}\r\na=control:trackID=1\r\n")

    def _setup(self, cseq: str, transport: str) -> None:
        if not self.cam.streaming or self.ctx.clip_for is None:
            self._reply(453, "Not Enough Bandwidth", cseq)
            return
        if "TCP" not in transport.upper():
            self._reply(461, "Unsupported Transport", cseq)
            return
        m = re.search(r"interleaved=(\d+)", transport)
        self.channel = int(m.group(1)) if m else 0
        self.session = self.session or secrets.token_hex(8)
        self._reply(200, "OK", cseq, (f"Transport: RTP/AVP/TCP;unicast;interleaved={self.channel}-{self.channel + 1}",
                                      f"Session: {self.session};timeout=60"))

    def _play(self, cseq: str, uri: str) -> None:
        if not self.session:
            self._reply(455, "Method Not Valid In This State", cseq)
            return
        seq, ssrc, rtp0 = random.randrange(1 << 16), random.randrange(1 << 32), random.randrange(1, 1 << 31)
        self._reply(200, "OK", cseq, (f"Session: {self.session}", "Range: npt=0.000-",
                                      f"RTP-Info: url={uri.rstrip('/')}/trackID=1;seq={seq};rtptime={rtp0}"))
        if self.streamer is None:
            self.streamer = asyncio.get_running_loop().create_task(self._stream(seq, ssrc, rtp0))

    async def _stream(self, seq: int, ssrc: int, rtp0: int) -> None:
        """Send the camera's clip in real time, looping, from the live keyframe on (first RTP time ``rtp0``)."""
        assert self.ctx.clip_for is not None
        loop = asyncio.get_running_loop()
        clip = self.ctx.clip_for(self.cam)
        i = clip.key_index_at((loop.time() - self.ctx.t0) % clip.duration)
        base_wall, base_t, skipping = loop.time(), clip.frames[i].t, False
        start = base_wall
        sent = [0, 0]  # RTP packets and payload octets, for sender reports
        while self.transport is not None:
            frame = clip.frames[i]
            delay = base_wall + (frame.t - base_t) - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.transport is None:
                return
            if frame.key:
                skipping = self.transport.get_write_buffer_size() > 4 << 20
            if not skipping:
                nals = (clip.sps, clip.pps, *frame.nals) if frame.key else frame.nals
                ts = rtp0 + round((base_wall + frame.t - base_t - start) * 90000)
                if frame.key:  # a sender report per GOP lets clients map RTP time to wall time
                    sr = rtcp_sender_report(ssrc, time.time(), ts, sent[0], sent[1])
                    self.transport.write(interleave(self.channel + 1, sr))
                for pkt in rtp_packets(nals, seq, ts, ssrc):
                    self.transport.write(interleave(self.channel, pkt))
                    seq += 1
                    sent[0] += 1
                    sent[1] += len(pkt) - 12
            i += 1
            if i >= len(clip.frames):
                base_wall += clip.duration - base_t
                base_t, i = 0.0, 0
                clip = self.ctx.clip_for(self.cam)  # a picture fault may have changed
                base_t = clip.frames[0].t

    # -- ONVIF -----------------------------------------------------------------------------
    def _http(self) -> None:
        from vigil.sim.onvif import handle_http

        head, sep, rest = self.buf.partition(b"\r\n\r\n")
        if not sep or len(rest) < _content_length(head):
            return
        length = _content_length(head)
        body, self.buf = rest[:length], rest[length:]
        if "garbage" in self.cam.faults:
            self._garbage()
            return
        out = handle_http(head.decode("latin-1"), body, self.cam) if self.cam.onvif else _HTTP_404
        self._send(out)


_HTTP_404 = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


def _content_length(head: bytes) -> int:
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return int(m.group(1)) if m else 0
