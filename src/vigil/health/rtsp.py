"""A minimal RTSP client on asyncio streams: OPTIONS then DESCRIBE with digest auth (RFC 2617).

:func:`probe_rtsp` answers one question: does the camera at ``url`` serve a stream description
to these credentials? It never raises for a camera's misbehaviour; it returns an
:class:`RtspAnswer` whose ``reason`` says what went wrong:

``refused``      the address answered the connection attempt with RST (nothing listens);
``timeout``      no (complete) answer within the time allowed;
``auth``         the camera rejected the credentials (401 after a digest answer, or 403), or it offers
                 only Basic auth over plain RTSP and the camera is not allowed it (the password
                 would cross the network in clear, so it is never sent);
``protocol``     the camera answered, but not with a valid RTSP description (garbage, wrong status,
                 no SDP), or cut the connection before answering;
``unreachable``  no route to the host, an unresolvable name or an unusable URL (one that breaks the
                 registry's rule for stream URLs is refused before any connection).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import functools
import hashlib
import os
import re
import socket
import struct
from dataclasses import dataclass
from urllib.parse import unquote

from vigil.core.errors import InputError
from vigil.registry.streams import validate_stream_url

__all__ = ["REASONS", "RtspAnswer", "digest_authorization", "probe_rtsp"]

REASONS: tuple[str, ...] = ("refused", "timeout", "auth", "protocol", "unreachable")
_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL, errno.ENETDOWN, errno.EHOSTDOWN}
_PARAM_RE = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')
_UA = "Vigil-Probe/1.0"
_LINGER0 = struct.pack("ii", 1, 0)


@dataclass(frozen=True, slots=True)
class RtspAnswer:
    """Outcome of one RTSP probe: ``reason`` is empty when the camera is online."""

    reason: str
    detail: str = ""

    @property
    def online(self) -> bool:
        return not self.reason


class _Down(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _md5(s: str) -> str:
    return hashlib.md5(s.encode(), usedforsecurity=False).hexdigest()


def digest_authorization(challenge: str, method: str, uri: str, user: str, password: str, nc: int = 1) -> str:
    """The ``Authorization`` value answering a ``WWW-Authenticate`` challenge (Digest, or Basic)."""
    scheme = challenge.split(" ", 1)[0].lower()
    if scheme == "basic":
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    p = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
         for m in _PARAM_RE.finditer(challenge)}
    realm, nonce = p.get("realm", ""), p.get("nonce", "")
    ha1, ha2 = _md5(f"{user}:{realm}:{password}"), _md5(f"{method}:{uri}")
    fields = f'username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}"'
    qops = [q.strip() for q in p.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce, ncs = os.urandom(8).hex(), f"{nc:08x}"
        resp = _md5(f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}")
        fields += f', qop=auth, nc={ncs}, cnonce="{cnonce}"'
    else:
        resp = _md5(f"{ha1}:{nonce}:{ha2}")
    if "opaque" in p:
        fields += f', opaque="{p["opaque"]}"'
    return f'Digest {fields}, response="{resp}", algorithm=MD5'


_STATUS_RE = re.compile(rb"RTSP/1\.\d (\d{3})[ \r]")
_LENGTH_RE = re.compile(rb"\r\n[Cc]ontent-[Ll]ength:[ \t]*(\d+)")
_CHALLENGE_RE = re.compile(rb"\r\n[Ww][Ww][Ww]-[Aa]uthenticate:[ \t]*([^\r]*)")


def _pick_challenge(head: bytes) -> str:
    offers = [m.decode("latin-1").strip() for m in _CHALLENGE_RE.findall(head)]
    return next((v for v in offers if v.lower().startswith("digest")), offers[0] if offers else "")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bytes]:
    """One answer: (status, raw header block, body). Only what the probe needs is parsed."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise _Down("protocol", "connection closed before an answer" if not exc.partial
                    else "truncated answer") from None
    except asyncio.LimitOverrunError:
        raise _Down("protocol", "answer is not RTSP (no header end)") from None
    m = _STATUS_RE.match(head)
    if m is None:
        first = head.split(b"\r\n", 1)[0][:40].decode("latin-1")
        raise _Down("protocol", f"answer is not RTSP: {first!r}")
    lm = _LENGTH_RE.search(head)
    length = int(lm.group(1)) if lm else 0
    if length > 1 << 20:
        raise _Down("protocol", "oversized answer")
    body = await reader.readexactly(length) if length else b""
    return int(m.group(1)), head, body


class _Session:
    """One RTSP connection: numbered requests, remembered credentials."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, uri: str,
                 user: str, password: str, *, allow_basic: bool = False) -> None:
        self.reader, self.writer, self.uri = reader, writer, uri
        self.user, self.password, self.allow_basic = user, password, allow_basic
        self.cseq, self.challenge, self.nc = 0, "", 0

    def message(self, method: str, extra: str = "") -> bytes:
        self.cseq += 1
        auth = ""
        if self.challenge and (self.user or self.password):
            self.nc += 1
            auth = "Authorization: " + digest_authorization(self.challenge, method, self.uri, self.user,
                                                            self.password, self.nc) + "\r\n"
        return (f"{method} {self.uri} RTSP/1.0\r\nCSeq: {self.cseq}\r\nUser-Agent: {_UA}\r\n"
                f"{auth}{extra}\r\n").encode()

    async def describe(self) -> bytes:
        """OPTIONS and DESCRIBE pipelined in one write, then DESCRIBE again with credentials if challenged."""
        accept = "Accept: application/sdp\r\n"
        self.writer.write(self.message("OPTIONS") + self.message("DESCRIBE", accept))
        await _read_response(self.reader)  # any RTSP answer to OPTIONS will do
        status, head, body = await _read_response(self.reader)
        if status == 401:
            self.challenge = _pick_challenge(head)
            if not self.challenge:
                raise _Down("protocol", "401 without a WWW-Authenticate challenge")
            if self.challenge.lower().startswith("basic") and not self.allow_basic:
                raise _Down("auth", "the camera offers only Basic auth over plain RTSP; the password was not "
                                    "sent (allow Basic auth on the camera to accept that)")
            self.writer.write(self.message("DESCRIBE", accept))
            status, head, body = await _read_response(self.reader)
            if status in (401, 403):
                raise _Down("auth", f"{status} after credentials")
        if status == 403:
            raise _Down("auth", "403 Forbidden")
        if status != 200:
            raise _Down("protocol", f"DESCRIBE answered {status}")
        if not body.lstrip().startswith(b"v=0"):
            raise _Down("protocol", "DESCRIBE gave no SDP")
        return body


_URL_RE = re.compile(r"(?i)(rtsps?)://(?:([^:@/]*)(?::([^@/]*))?@)?(\[[0-9a-f:.]+\]|[^:/?#@\[\]]+)(?::(\d{1,5}))?"
                     r"([/?][^#]*)?(?:#.*)?")


@functools.lru_cache(maxsize=1 << 16)
def _split(url: str, user: str, password: str) -> tuple[str, int, str, str, str]:
    """(host, port, request URI without credentials, user, password); credentials in the URL are a fallback."""
    m = _URL_RE.fullmatch(url.strip())
    if m is None:
        raise _Down("unreachable", "not an rtsp:// URL")
    scheme, u_user, u_pass, host, port, rest = m.groups()
    user = user or unquote(u_user or "")
    password = password or unquote(u_pass or "")
    path = rest or "/"
    if path.startswith("?"):
        path = "/" + path
    if port is not None and not 0 < int(port) < 65536:
        raise _Down("unreachable", f"bad port {port}")
    netloc = host if port is None else f"{host}:{port}"
    return host.strip("[]"), int(port or 554), f"{scheme.lower()}://{netloc}{path}", user, password


async def _exchange(url: str, user: str, password: str, allow_basic: bool) -> None:
    try:
        validate_stream_url(url, field="url")  # credentials travel apart from the URL, never inside it
    except InputError as exc:
        raise _Down("unreachable", f"refused URL: {exc}") from None
    host, port, uri, user, password = _split(url, user, password)
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except ConnectionRefusedError:
        raise _Down("refused") from None
    except socket.gaierror as exc:
        raise _Down("unreachable", f"name lookup failed: {exc.strerror}") from None
    except OSError as exc:
        if exc.errno in _UNREACHABLE:
            raise _Down("unreachable", exc.strerror or str(exc)) from None
        raise
    try:
        await _Session(reader, writer, uri, user, password, allow_basic=allow_basic).describe()
    finally:
        sock = writer.get_extra_info("socket")
        if sock is not None:  # abortive close: no TIME_WAIT left behind per probed camera
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER0)
        writer.close()


async def probe_rtsp(url: str, username: str = "", password: str = "", *, timeout: float = 3.0,
                     allow_basic: bool = False) -> RtspAnswer:
    """Probe one RTSP URL (OPTIONS, DESCRIBE with auth) within ``timeout`` seconds; never raises.

    Digest is always used when offered; a password goes by Basic auth only if ``allow_basic``.
    """
    try:
        async with asyncio.timeout(timeout):
            await _exchange(url, username, password, allow_basic)
    except _Down as exc:
        return RtspAnswer(exc.reason, exc.detail)
    except TimeoutError:
        return RtspAnswer("timeout", f"no answer within {timeout:g} s")
    except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        return RtspAnswer("protocol", "connection reset by the camera")
    except OSError as exc:
        return RtspAnswer("unreachable", exc.strerror or str(exc))
    except (ValueError, UnicodeError) as exc:
        return RtspAnswer("protocol", f"unreadable answer: {exc}")
    return RtspAnswer("")
