"""SM3 hash (GB/T 32905-2016): OpenSSL's through :mod:`hashlib` when present, else this pure-Python one."""

from __future__ import annotations

import hashlib
import struct

__all__ = ["sm3_hex", "sm3_pure_hex"]

_IV = (0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600, 0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E)
_M = 0xFFFFFFFF


def _rotl(x: int, n: int) -> int:
    n %= 32
    return ((x << n) | (x >> (32 - n))) & _M


def _p0(x: int) -> int:
    return x ^ _rotl(x, 9) ^ _rotl(x, 17)


def _p1(x: int) -> int:
    return x ^ _rotl(x, 15) ^ _rotl(x, 23)


def _compress(v: tuple[int, ...], block: bytes) -> tuple[int, ...]:
    w = list(struct.unpack(">16I", block))
    for j in range(16, 68):
        w.append(_p1(w[j - 16] ^ w[j - 9] ^ _rotl(w[j - 3], 15)) ^ _rotl(w[j - 13], 7) ^ w[j - 6])
    w1 = [w[j] ^ w[j + 4] for j in range(64)]
    a, b, c, d, e, f, g, h = v
    for j in range(64):
        t = 0x79CC4519 if j < 16 else 0x7A879D8A
        ss1 = _rotl((_rotl(a, 12) + e + _rotl(t, j)) & _M, 7)
        ss2 = ss1 ^ _rotl(a, 12)
        if j < 16:
            ff, gg = a ^ b ^ c, e ^ f ^ g
        else:
            ff, gg = (a & b) | (a & c) | (b & c), (e & f) | (~e & g)
        tt1 = (ff + d + ss2 + w1[j]) & _M
        tt2 = (gg + h + ss1 + w[j]) & _M
        a, b, c, d = tt1, a, _rotl(b, 9), c
        e, f, g, h = _p0(tt2), e, _rotl(f, 19), g
    return tuple(x ^ y for x, y in zip((a, b, c, d, e, f, g, h), v, strict=True))


def sm3_pure_hex(data: bytes) -> str:
    """SM3 of ``data`` in pure Python (hex)."""
    n = len(data) * 8
    msg = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack(">Q", n)
    v: tuple[int, ...] = _IV
    for i in range(0, len(msg), 64):
        v = _compress(v, msg[i:i + 64])
    return "".join(f"{x:08x}" for x in v)


def _openssl() -> bool:
    try:
        return hashlib.new("sm3", b"abc").hexdigest() == (
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    except ValueError:
        return False


_HAVE_OPENSSL = _openssl()


def sm3_hex(data: bytes) -> str:
    """SM3 of ``data`` (hex)."""
    return hashlib.new("sm3", data).hexdigest() if _HAVE_OPENSSL else sm3_pure_hex(data)
