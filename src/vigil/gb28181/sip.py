"""SIP messages (RFC 3261 subset GB/T 28181 uses): a bounded, strict parser and a serializer.

Bounds: a whole message at most :data:`MAX_MESSAGE` bytes, at most :data:`MAX_HEADERS` header
lines of at most :data:`MAX_LINE` bytes each. ``Content-Length`` is strict: not a decimal, given
twice with different values, or larger than the bytes that came is an error; over a stream (TCP)
it is required. Every failure is a :class:`SipParseError` with a one-line reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from vigil.core.errors import InputError

__all__ = [
    "MAX_MESSAGE",
    "SipMessage",
    "SipParseError",
    "StreamParser",
    "parse_message",
    "param",
    "uri_user",
]

MAX_MESSAGE = 65_535
MAX_HEADERS = 64
MAX_LINE = 4_096

_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
            "c": "content-type", "e": "content-encoding", "k": "supported", "s": "subject", "o": "event"}
_CANON = {"call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate", "x-gb-ver": "X-GB-Ver"}
_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_STATUS = re.compile(r"^SIP/2\.0 ([1-6][0-9]{2})(?: (.*))?$")
_REQUEST = re.compile(r"^([A-Z]+) (\S+) SIP/2\.0$")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


class SipParseError(InputError):
    """Bytes that are not an acceptable SIP message."""


def _canon(name: str) -> str:
    low = name.lower()
    low = _COMPACT.get(low, low)
    return _CANON.get(low) or "-".join(p.capitalize() for p in low.split("-"))


@dataclass
class SipMessage:
    """A request (``method`` set) or a response (``status`` set); header names are canonical."""

    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    def get(self, name: str, default: str = "") -> str:
        """The first value of header ``name`` (any case, compact forms too)."""
        key = _canon(name)
        for n, v in self.headers:
            if n == key:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        key = _canon(name)
        return [v for n, v in self.headers if n == key]

    def set(self, name: str, value: str) -> None:
        """Replace every ``name`` header by one with ``value``."""
        key = _canon(name)
        self.headers = [(n, v) for n, v in self.headers if n != key]
        self.headers.append((key, value))

    @property
    def call_id(self) -> str:
        return self.get("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        """(number, method) of the CSeq header; (0, "") if it is missing or bad."""
        parts = self.get("CSeq").split()
        if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 10:
            return 0, ""
        return int(parts[0]), parts[1].upper()

    def to_bytes(self) -> bytes:
        """Serialize; Content-Length is always written from the body."""
        first = f"{self.method} {self.uri} SIP/2.0" if self.method else f"SIP/2.0 {self.status} {self.reason}"
        lines = [first] + [f"{n}: {v}" for n, v in self.headers if n != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body

    def response(self, status: int, reason: str, *, to_tag: str = "",
                 extra: Iterable[tuple[str, str]] = (), body: bytes = b"") -> SipMessage:
        """A response to this request: Via, From, To (tagged), Call-ID and CSeq copied."""
        heads = [(n, v) for n, v in self.headers if n in ("Via", "From", "Call-ID", "CSeq")]
        to = self.get("To")
        if to_tag and ";tag=" not in to:
            to = f"{to};tag={to_tag}"
        heads.insert(2, ("To", to))
        return SipMessage(status=status, reason=reason, headers=heads + list(extra), body=body)


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    values = {v.strip() for n, v in headers if n == "Content-Length"}
    if not values:
        return None
    if len(values) > 1:
        raise SipParseError("conflicting Content-Length headers")
    (text,) = values
    if not text.isdigit() or not text.isascii() or len(text) > 6:
        raise SipParseError(f"Content-Length {text[:20]!r} is not a decimal byte count")
    n = int(text)
    if n > MAX_MESSAGE:
        raise SipParseError(f"Content-Length {n} is over the {MAX_MESSAGE}-byte limit")
    return n


def _parse_head(head: bytes) -> SipMessage:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("SIP start line or headers are not UTF-8") from None
    lines = text.replace("\r\n", "\n").split("\n")
    if any(len(line) > MAX_LINE for line in lines):
        raise SipParseError(f"a header line is over {MAX_LINE} bytes")
    msg = _start_line(lines[0])
    for line in lines[1:]:
        if not line:
            raise SipParseError("empty line inside the headers")
        if line[0] in " \t":  # folded continuation
            if not msg.headers:
                raise SipParseError("continuation line before any header")
            n, v = msg.headers[-1]
            msg.headers[-1] = (n, f"{v} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        name = name.strip()
        if not sep or not _TOKEN.match(name):
            raise SipParseError(f"bad header line {line[:40]!r}")
        msg.headers.append((_canon(name), value.strip()))
        if len(msg.headers) > MAX_HEADERS:
            raise SipParseError(f"more than {MAX_HEADERS} headers")
    for need in ("Call-ID", "CSeq", "From", "To", "Via"):
        if not msg.get(need):
            raise SipParseError(f"missing {need} header")
    if msg.cseq[0] == 0 and msg.get("CSeq").split()[:1] != ["0"]:
        raise SipParseError(f"bad CSeq {msg.get('CSeq')[:40]!r}")
    return msg


def _start_line(line: str) -> SipMessage:
    m = _STATUS.match(line)
    if m:
        return SipMessage(status=int(m.group(1)), reason=m.group(2) or "")
    m = _REQUEST.match(line)
    if m:
        return SipMessage(method=m.group(1), uri=m.group(2))
    raise SipParseError(f"bad start line {line[:60]!r}")


def parse_message(data: bytes, *, stream: bool = False) -> SipMessage:
    """Parse one whole datagram (``stream=False``) or one framed stream message."""
    if len(data) > MAX_MESSAGE:
        raise SipParseError(f"message of {len(data)} bytes is over the {MAX_MESSAGE}-byte limit")
    m = _HEADER_END.search(data)
    if m is None:
        raise SipParseError("no blank line after the headers")
    msg = _parse_head(data[:m.start()])
    rest = data[m.end():]
    n = _content_length(msg.headers)
    if n is None:
        if stream:
            raise SipParseError("Content-Length is required over TCP")
        n = len(rest)
    if n > len(rest):
        raise SipParseError(f"Content-Length {n} but only {len(rest)} body bytes came")
    msg.body = rest[:n]
    return msg


class StreamParser:
    """Frames SIP messages out of a TCP byte stream; the buffer never grows past one message."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[SipMessage]:
        """Add bytes; return the complete messages. Raises :class:`SipParseError` on a bad frame."""
        self._buf += data
        out: list[SipMessage] = []
        while True:
            while self._buf[:2] == b"\r\n":  # CRLF keep-alives (RFC 5626)
                del self._buf[:2]
            m = _HEADER_END.search(self._buf)
            if m is None:
                if len(self._buf) > MAX_MESSAGE:
                    raise SipParseError("headers over the size limit")
                return out
            msg = _parse_head(bytes(self._buf[:m.start()]))
            n = _content_length(msg.headers)
            if n is None:
                raise SipParseError("Content-Length is required over TCP")
            end = m.end() + n
            if end > MAX_MESSAGE:
                raise SipParseError("message over the size limit")
            if len(self._buf) < end:
                return out
            msg.body = bytes(self._buf[m.end():end])
            del self._buf[:end]
            out.append(msg)


def param(value: str, name: str) -> str:
    """The value of ``;name=value`` in a header value (quotes removed), or ''."""
    m = re.search(rf";\s*{re.escape(name)}=(\"[^\"]*\"|[^;,\s>]*)", value, re.IGNORECASE)
    return m.group(1).strip('"') if m else ""


_URI_USER = re.compile(r"sips?:([^@;>\s]+)@")


def uri_user(value: str) -> str:
    """The user part of the first sip: URI in ``value`` (a device ID in GB/T 28181), or ''."""
    m = _URI_USER.search(value)
    return m.group(1) if m else ""
