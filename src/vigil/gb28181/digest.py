"""SIP digest authentication (RFC 2617 / 3261) with MD5 or SM3 (GB/T 28181-2022 section 8.3).

Nonces are issued by a bounded :class:`NonceStore`. A nonce is good for a limited time and each
(nonce, nc) pair is accepted once: a replayed REGISTER gets a fresh challenge, never a state change.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from vigil.gb28181.sm3 import sm3_hex

__all__ = ["ALGORITHMS", "Credentials", "NonceStore", "challenge", "digest_response", "parse_authorization",
           "parse_challenge",
           "verify"]

ALGORITHMS: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda b: hashlib.md5(b, usedforsecurity=False).hexdigest(),
    "SM3": sm3_hex,
}
_PAIR = re.compile(r'([A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)')


@dataclass(frozen=True)
class Credentials:
    """The fields of an ``Authorization: Digest ...`` header."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: str = ""
    nc: str = ""
    cnonce: str = ""


def parse_authorization(value: str) -> Credentials | None:
    """Parse a Digest Authorization header; ``None`` if it is not one or lacks a field."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest" or len(rest) > 2048:
        return None
    f = {k.lower(): v.strip('"') for k, v in _PAIR.findall(rest)}
    try:
        creds = Credentials(username=f["username"], realm=f["realm"], nonce=f["nonce"], uri=f["uri"],
                            response=f["response"].lower(), algorithm=(f.get("algorithm") or "MD5").upper(),
                            qop=f.get("qop", "").lower(), nc=f.get("nc", ""), cnonce=f.get("cnonce", ""))
    except KeyError:
        return None
    return creds


def parse_challenge(value: str) -> dict[str, str]:
    """The fields of a ``WWW-Authenticate: Digest ...`` header (lower-case names)."""
    _, _, rest = value.strip().partition(" ")
    return {k.lower(): v.strip('"') for k, v in _PAIR.findall(rest[:2048])}


def digest_response(c: Credentials, password: str, method: str) -> str:
    """The expected ``response`` for ``c`` (its own algorithm, uri, nonce, qop)."""
    h = ALGORITHMS[c.algorithm]
    ha1 = h(f"{c.username}:{c.realm}:{password}".encode())
    ha2 = h(f"{method}:{c.uri}".encode())
    if c.qop == "auth":
        return h(f"{ha1}:{c.nonce}:{c.nc}:{c.cnonce}:auth:{ha2}".encode())
    return h(f"{ha1}:{c.nonce}:{ha2}".encode())


def challenge(realm: str, nonce: str, *, algorithm: str = "MD5", qop: bool = False, stale: bool = False) -> str:
    """A ``WWW-Authenticate`` value."""
    v = f'Digest realm="{realm}", nonce="{nonce}", algorithm={algorithm}'
    if qop:
        v += ', qop="auth"'
    if stale:
        v += ", stale=TRUE"
    return v


class NonceStore:
    """Issued nonces (at most ``limit``, oldest forgotten first), each valid ``ttl`` seconds."""

    def __init__(self, *, ttl: float = 300.0, limit: int = 20_000, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._limit = limit
        self._clock = clock
        self._issued: OrderedDict[str, tuple[float, int]] = OrderedDict()  # nonce -> (issued, last nc)

    def issue(self) -> str:
        nonce = secrets.token_hex(16)
        self._issued[nonce] = (self._clock(), -1)
        while len(self._issued) > self._limit:
            self._issued.popitem(last=False)
        return nonce

    def __len__(self) -> int:
        return len(self._issued)

    def use(self, nonce: str, nc: str) -> bool:
        """Consume (nonce, nc): True once for a live nonce and a count above the last one seen."""
        entry = self._issued.get(nonce)
        if entry is None or self._clock() - entry[0] > self._ttl:
            self._issued.pop(nonce, None)
            return False
        count = int(nc, 16) if nc and len(nc) <= 8 and all(ch in "0123456789abcdefABCDEF" for ch in nc) else 0
        if count <= entry[1]:
            return False
        self._issued[nonce] = (entry[0], count)
        return True


def verify(c: Credentials, password: str, method: str, realm: str) -> bool:
    """True if ``c`` answers with ``password``; unknown algorithms and a wrong realm fail."""
    if c.algorithm not in ALGORITHMS or c.realm != realm or (c.qop and c.qop != "auth"):
        return False
    return hmac.compare_digest(digest_response(c, password, method), c.response)
