"""Export manifests: SHA-256 of every file, signed with the instance's Ed25519 key.

The private key lives beside the data (``<home>/signing.key``, mode 0600), the public key in
``<home>/signing.pub``; the manifest names the key by the SHA-256 of its raw public bytes.
Anyone holding the public key can check an export with :func:`verify_export`. The manifest also
embeds the signer's public key, but that key is only reported, never trusted: whoever re-signs
an edited export embeds their own key. Verification always uses a pinned key (by default the
instance's own, :func:`pinned_public_key`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vigil.core.errors import InputError

__all__ = [
    "MANIFEST",
    "SIGNATURE",
    "canonical",
    "key_id",
    "load_or_create_signing_key",
    "pinned_public_key",
    "public_key_pem",
    "sha256_file",
    "sign_manifest",
    "verify_export",
]

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def load_or_create_signing_key(home: Path) -> Ed25519PrivateKey:
    """The instance's signing key, created on first use (private 0600, public beside it)."""
    priv = home / "signing.key"
    if priv.exists():
        key = serialization.load_pem_private_key(priv.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise InputError(f"{priv} is not an Ed25519 key")
        return key
    home.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(priv, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    (home / "signing.pub").write_bytes(public_key_pem(key.public_key()))
    return key


def pinned_public_key(home: Path) -> bytes:
    """PEM of the instance's own public key: from ``signing.key`` when present, else ``signing.pub``."""
    priv, pub = home / "signing.key", home / "signing.pub"
    if priv.exists():
        return public_key_pem(load_or_create_signing_key(home).public_key())
    if pub.exists():
        return pub.read_bytes()
    raise InputError(f"no pinned public key: {home} has no signing.key or signing.pub; "
                     "pass the exporting instance's public key file")


def public_key_pem(pub: Ed25519PublicKey) -> bytes:
    """PEM (SubjectPublicKeyInfo) of a public key."""
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(pub: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key: names the key in manifests."""
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def canonical(obj: Any) -> bytes:
    """The exact bytes that are signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_manifest(key: Ed25519PrivateKey, manifest: dict[str, Any], out_dir: Path) -> str:
    """Write ``manifest.json`` and ``manifest.sig`` (base64 Ed25519 over the canonical JSON)."""
    manifest = {**manifest, "key_id": key_id(key.public_key()),
                "public_key": public_key_pem(key.public_key()).decode()}
    body = canonical(manifest)
    sig = base64.b64encode(key.sign(body)).decode()
    (out_dir / MANIFEST).write_bytes(body)
    (out_dir / SIGNATURE).write_text(sig + "\n")
    return sig


def verify_export(out_dir: Path, public_pem: bytes) -> dict[str, Any]:
    """Check an export's signature against the pinned ``public_pem`` and every file's SHA-256.

    Returns the manifest or raises InputError. The key embedded in the manifest plays no part:
    an export re-signed with another key fails, naming the key it claims.
    """
    body = (out_dir / MANIFEST).read_bytes()
    try:
        manifest = json.loads(body)
        pub = serialization.load_pem_public_key(public_pem)
    except ValueError as exc:
        raise InputError(f"cannot read the manifest or the pinned key: {exc}") from exc
    if not isinstance(pub, Ed25519PublicKey):
        raise InputError("the pinned public key is not Ed25519")
    try:
        pub.verify(base64.b64decode((out_dir / SIGNATURE).read_text().strip()), body)
    except (InvalidSignature, ValueError) as exc:
        claimed = str(manifest.get("key_id", "?"))[:16] if isinstance(manifest, dict) else "?"
        raise InputError(f"the manifest signature does not verify with the pinned key {key_id(pub)[:16]}… "
                         f"(the manifest claims key {claimed}…, which is not trusted)") from exc
    if manifest.get("key_id") != key_id(pub):
        raise InputError("the manifest was signed by a different key")
    for f in manifest["files"]:
        p = out_dir / f["name"]
        if not p.exists() or sha256_file(p) != f["sha256"]:
            raise InputError(f"{f['name']} does not match its SHA-256 in the manifest")
    return manifest
