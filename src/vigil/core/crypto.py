"""Encryption of camera credentials at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key lives in a file beside the data (mode 0600), never in the database, so a
stolen database dump does not reveal camera passwords.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from vigil.core.errors import InputError

__all__ = ["CredentialBox", "load_or_create_key"]


#: keys read, by path: the audit log signs every row with its key, and reading the file each time cost
#: about 1.4 % of an audited read's CPU (py-spy under bench/api_load.py)
_READ: dict[str, tuple[tuple[int, int, int], bytes]] = {}


def load_or_create_key(path: Path) -> bytes:
    """Read the instance key, creating it (0600) on first use.

    The key is written to a private temporary file and linked into place, so a process starting
    at the same moment reads either no file or the whole key, and both end up with the same key.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        pass
    else:  # one stat per call; the file is read again only when it is another file or was rewritten
        where, seen = str(path), (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = _READ.get(where)
        if cached is not None and cached[0] == seen:
            return cached[1]
        key = path.read_bytes().strip()
        _READ[where] = (seen, key)
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(Fernet.generate_key())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process won the race: use its key
    finally:
        tmp.unlink()
    return path.read_bytes().strip()


class CredentialBox:
    """Encrypts and decrypts camera passwords."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_file(cls, path: Path) -> CredentialBox:
        return cls(load_or_create_key(path))

    def seal(self, secret: str) -> bytes | None:
        """Encrypt ``secret``; an empty secret is stored as ``None``."""
        if not secret:
            return None
        return self._fernet.encrypt(secret.encode())

    def open(self, token: bytes | None) -> str:
        """Decrypt a sealed secret."""
        if not token:
            return ""
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise InputError("camera credential cannot be decrypted with this instance's key") from exc
