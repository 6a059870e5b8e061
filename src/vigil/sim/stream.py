"""H.264 clips for simulated cameras: load any H.264 file once, packetise it as RTP (RFC 6184).

A :class:`Clip` holds the access units of a file in memory (no decoding): PyAV demuxes the
container, NAL units are split from AVCC (MP4/MKV) or Annex B framing. Footage comes from
:mod:`vigil.sim.media` (real vtest.avi, healthy or with a picture fault), but any H.264 file works. :func:`rtp_packets`
turns one access unit into RTP packets (single NAL unit packets, FU-A above the MTU), and
:func:`interleave` frames them for RTSP over TCP (RFC 2326 §10.12).
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from vigil.core.errors import InputError

__all__ = ["Clip", "Frame", "interleave", "load_clip", "rtcp_sender_report", "rtp_packets"]

RTP_MTU = 1400


@dataclass(frozen=True, slots=True)
class Frame:
    """One access unit: its NAL units (without start codes), key flag and time in seconds."""

    nals: tuple[bytes, ...]
    key: bool
    t: float


@dataclass(frozen=True)
class Clip:
    """An H.264 clip held in memory, ready to be served over RTP."""

    path: Path
    frames: tuple[Frame, ...]
    sps: bytes
    pps: bytes
    width: int
    height: int
    fps: float
    duration: float

    @property
    def profile_level_id(self) -> str:
        return self.sps[1:4].hex().upper()

    def fmtp(self) -> str:
        """The SDP ``a=fmtp`` value for payload type 96."""
        sets = ",".join(base64.b64encode(x).decode() for x in (self.sps, self.pps))
        return f"96 packetization-mode=1;profile-level-id={self.profile_level_id};sprop-parameter-sets={sets}"

    def key_index_at(self, t: float) -> int:
        """Index of the last keyframe at or before ``t`` seconds into the clip."""
        best = 0
        for i, f in enumerate(self.frames):
            if f.t > t:
                break
            if f.key:
                best = i
        return best


def _split_annexb(data: bytes) -> list[bytes]:
    nals, i, n = [], 0, len(data)
    starts = []
    while i < n - 2:
        j = data.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        starts.append(j + 3)
        i = j + 3
    for k, s in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else n
        nal = data[s:end].rstrip(b"\x00") if k + 1 < len(starts) else data[s:end]
        if nal:
            nals.append(nal)
    return nals


def _split_avcc(data: bytes, size: int) -> list[bytes]:
    nals, i = [], 0
    while i + size <= len(data):
        n = int.from_bytes(data[i:i + size], "big")
        i += size
        nals.append(data[i:i + n])
        i += n
    return nals


def _parse_avcc_extradata(ext: bytes) -> tuple[int, list[bytes], list[bytes]]:
    size = (ext[4] & 3) + 1
    i, sps, pps = 6, [], []
    for _ in range(ext[5] & 0x1F):
        n = struct.unpack(">H", ext[i:i + 2])[0]
        sps.append(ext[i + 2:i + 2 + n])
        i += 2 + n
    for _ in range(ext[i]):
        n = struct.unpack(">H", ext[i + 1:i + 3])[0]
        pps.append(ext[i + 3:i + 3 + n])
        i += 2 + n
    return size, sps, pps


@lru_cache(maxsize=32)
def load_clip(path: str | Path) -> Clip:
    """Demux an H.264 file (MP4, MKV, raw .h264...) into memory; cached per path."""
    import av

    p = Path(path)
    if not p.exists():
        raise InputError(f"clip {p} does not exist")
    with av.open(str(p)) as box:
        vs = next(iter(box.streams.video), None)  # the first video stream
        if vs is None or vs.codec_context.name != "h264":
            raise InputError(f"{p} has no H.264 video stream")
        ext = bytes(vs.codec_context.extradata or b"")
        size, sps, pps = (_parse_avcc_extradata(ext) if ext[:1] == b"\x01" else (0, [], []))
        if ext and ext[:1] != b"\x01":
            for nal in _split_annexb(ext):
                (sps if nal[0] & 0x1F == 7 else pps).append(nal)
        tb = float(vs.time_base or 1 / 90000)
        rate = float(vs.average_rate or vs.guessed_rate or 25)
        frames: list[Frame] = []
        for pkt in box.demux(vs):
            if pkt.size == 0:
                continue
            data = bytes(pkt)
            nals = _split_avcc(data, size) if size else _split_annexb(data)
            for nal in nals:
                kind = nal[0] & 0x1F
                if kind == 7 and not sps:
                    sps.append(nal)
                elif kind == 8 and not pps:
                    pps.append(nal)
            nals = [n for n in nals if n[0] & 0x1F not in (7, 8, 9)]
            t = float(pkt.pts) * tb if pkt.pts is not None else len(frames) / rate
            frames.append(Frame(tuple(nals), bool(pkt.is_keyframe), t))
        width, height = vs.codec_context.width, vs.codec_context.height
    if not frames or not sps or not pps:
        raise InputError(f"{p}: no H.264 frames or parameter sets found")
    t0 = frames[0].t
    frames = [Frame(f.nals, f.key, f.t - t0) for f in frames]
    frames.sort(key=lambda f: f.t)
    duration = frames[-1].t + 1 / rate
    return Clip(p, tuple(frames), sps[0], pps[0], width, height, rate, duration)


def rtp_packets(nals: tuple[bytes, ...] | list[bytes], seq: int, ts: int, ssrc: int,
                mtu: int = RTP_MTU) -> Iterator[bytes]:
    """RTP packets (payload type 96) of one access unit; the marker bit is set on its last packet."""
    last_nal = len(nals) - 1
    for k, nal in enumerate(nals):
        if len(nal) <= mtu:
            chunks = [nal]
        else:
            hdr, body = nal[0], nal[1:]
            ind = (hdr & 0xE0) | 28
            parts = [body[i:i + mtu] for i in range(0, len(body), mtu)]
            chunks = []
            for j, part in enumerate(parts):
                fu = (hdr & 0x1F) | (0x80 if j == 0 else 0) | (0x40 if j == len(parts) - 1 else 0)
                chunks.append(bytes((ind, fu)) + part)
        for j, chunk in enumerate(chunks):
            marker = 0x80 if (k == last_nal and j == len(chunks) - 1) else 0
            yield struct.pack(">BBHII", 0x80, marker | 96, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + chunk
            seq += 1


def rtcp_sender_report(ssrc: int, wall: float, rtp_ts: int, packets: int, octets: int) -> bytes:
    """An RTCP sender report (RFC 3550 §6.4.1) tying ``rtp_ts`` to the Unix time ``wall``."""
    ntp = wall + 2_208_988_800  # seconds since 1900
    sec = int(ntp)
    frac = int((ntp - sec) * (1 << 32)) & 0xFFFFFFFF
    return struct.pack(">BBHIIIIII", 0x80, 200, 6, ssrc, sec & 0xFFFFFFFF, frac, rtp_ts & 0xFFFFFFFF,
                       packets & 0xFFFFFFFF, octets & 0xFFFFFFFF)


def interleave(channel: int, packet: bytes) -> bytes:
    """Frame an RTP/RTCP packet for RTSP interleaved TCP transport."""
    return struct.pack(">cBH", b"$", channel, len(packet)) + packet
