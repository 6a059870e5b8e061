"""SDP of GB/T 28181 live view and playback (Annex F): the platform's offer and the device's answer.

The offer carries ``y=`` (the 10-digit SSRC: 0 live / 1 history, 5 domain digits, 4-digit sequence)
and ``f=`` (media parameters; empty fields mean "as the device likes"). A device may answer with its
own SSRC: :class:`SdpAnswer` keeps what it said, and the receiver accepts it.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.core.errors import InputError

__all__ = ["SdpAnswer", "answer", "decode_sdp", "make_ssrc", "offer", "parse_answer"]

MAX_SDP = 8192


def make_ssrc(domain: str, seq: int, *, live: bool = True) -> str:
    """``[0|1]`` + domain digits 4-8 + a 4-digit sequence number."""
    if not (domain.isdigit() and len(domain) >= 8):
        raise InputError(f"SIP domain {domain!r} must be at least 8 digits")
    return f"{0 if live else 1}{domain[3:8]}{seq % 10_000:04d}"


def offer(platform_id: str, channel_id: str, ip: str, port: int, ssrc: str, *, tcp: str = "",
          start: int = 0, end: int = 0) -> str:
    """The INVITE body: ``tcp`` is '' (UDP), 'passive' or 'active'; ``start``/``end`` ask for playback."""
    name = "Playback" if end else "Play"
    proto = "TCP/RTP/AVP" if tcp else "RTP/AVP"
    lines = ["v=0", f"o={platform_id} 0 0 IN IP4 {ip}", f"s={name}"]
    if end:
        lines.append(f"u={channel_id}:0")
    lines += [f"c=IN IP4 {ip}", f"t={start} {end}", f"m=video {port} {proto} 96 98 97", "a=recvonly",
              "a=rtpmap:96 PS/90000", "a=rtpmap:98 H264/90000", "a=rtpmap:97 MPEG4/90000"]
    if tcp:
        lines += [f"a=setup:{tcp}", "a=connection:new"]
    lines += [f"y={ssrc}", "f="]
    return "\r\n".join(lines) + "\r\n"


def answer(user: str, ip: str, port: int, ssrc: str, *, tcp: str = "") -> str:
    """The body of a 200 OK to an INVITE: PS over RTP sent from ``ip:port`` with ``ssrc``.

    ``tcp`` is this side's role over TCP ('active' connects, 'passive' listens); '' is UDP.
    """
    media = [f"m=video {port} TCP/RTP/AVP 96", f"a=setup:{tcp}", "a=connection:new"] if tcp else [
        f"m=video {port} RTP/AVP 96"]
    return "\r\n".join(["v=0", f"o={user} 0 0 IN IP4 {ip}", "s=Play", f"c=IN IP4 {ip}", "t=0 0", *media,
                        "a=sendonly", "a=rtpmap:96 PS/90000", f"y={ssrc}", "f="]) + "\r\n"


@dataclass(frozen=True)
class SdpAnswer:
    """What the device's 200 OK said: where it sends from, how, and with which SSRC."""

    ip: str
    port: int
    transport: str  # UDP | TCP
    payload_types: tuple[int, ...]
    ssrc: str
    setup: str = ""
    media_format: str = ""
    session: str = ""  # s=: Play, Playback or Download (in an offer)
    start: int = 0  # t= of a Playback/Download offer (epoch seconds)
    end: int = 0


def decode_sdp(body: bytes) -> str:
    """SDP bytes as text (ASCII in practice; GB18030 tolerated in s=/o= names)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("gb18030", errors="replace")


def parse_answer(text: str) -> SdpAnswer:
    """Parse a device's SDP answer; raises :class:`InputError` naming what is missing or bad."""
    if len(text) > MAX_SDP:
        raise InputError("SDP answer is over 8 KiB")
    ip, port, proto, ssrc, setup, fmt, name = "", 0, "", "", "", "", ""
    start = end = 0
    pts: tuple[int, ...] = ()
    for raw in text.splitlines():
        key, _, value = raw.strip().partition("=")
        if key == "c":
            ip = value.split()[-1] if value.split() else ""
        elif key == "m" and value.startswith("video"):
            parts = value.split()
            if len(parts) < 4 or not parts[1].isdigit() or not 0 < int(parts[1]) < 65536:
                raise InputError(f"bad SDP media line {raw[:60]!r}")
            port, proto = int(parts[1]), parts[2].upper()
            pts = tuple(int(p) for p in parts[3:] if p.isdigit())
        elif key == "y":
            ssrc = value.strip()
        elif key == "a" and value.startswith("setup:"):
            setup = value[6:].strip()
        elif key == "f":
            fmt = value.strip()
        elif key == "s":
            name = value.strip()[:20]
        elif key == "t":
            times = value.split()
            if len(times) == 2 and all(t.isdigit() and len(t) <= 12 for t in times):
                start, end = int(times[0]), int(times[1])
    if not ip or not port:
        raise InputError("SDP answer lacks a connection address or a video media line")
    if ssrc and not (ssrc.isdigit() and len(ssrc) <= 10):
        raise InputError(f"SDP answer has a bad SSRC y={ssrc[:20]!r}")
    return SdpAnswer(ip, port, "TCP" if proto.startswith("TCP") else "UDP", pts, ssrc, setup, fmt, name, start, end)
