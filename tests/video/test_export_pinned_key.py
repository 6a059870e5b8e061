"""`vigil retrieve verify` trusts the instance's pinned key, never the key embedded in the manifest."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.core.errors import InputError
from vigil.video.manifest import (
    MANIFEST,
    load_or_create_signing_key,
    pinned_public_key,
    public_key_pem,
    sha256_file,
    sign_manifest,
    verify_export,
)

VIGIL = str(Path(sys.executable).with_name("vigil"))


def _export(home: Path, folder: Path) -> Path:
    """An export folder signed by the instance, as retrieval.export writes it."""
    folder.mkdir(parents=True)
    clip = folder / "34020000001320000001_20261120T080000Z.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64)
    body = {"request": 7, "camera": "34020000001320000001", "start": "2026-11-20T08:00:00+00:00",
            "end": "2026-11-20T08:00:30+00:00", "reason": "case 2026-117", "requester": "alice",
            "approver": "bob", "files": [{"name": clip.name, "bytes": clip.stat().st_size,
                                          "sha256": sha256_file(clip)}]}
    sign_manifest(load_or_create_signing_key(home), body, folder)
    return clip


def _verify_cli(folder: Path, home: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([VIGIL, "retrieve", "verify", str(folder), "--home", str(home), *extra],
                          capture_output=True, text=True)


def test_a_re_signed_export_fails_against_the_pinned_key(tmp_path):
    home, folder = tmp_path / "home", tmp_path / "export"
    clip = _export(home, folder)
    ok = _verify_cli(folder, home)
    assert ok.returncode == 0 and "export verified" in ok.stdout, ok.stdout + ok.stderr

    # The attack: edit the clip, fix its SHA-256, re-sign with a fresh key and embed that key.
    clip.write_bytes(clip.read_bytes()[:-100] + b"\xff" * 100)
    doc = json.loads((folder / MANIFEST).read_text())
    doc["files"][0]["sha256"] = sha256_file(clip)
    for k in ("key_id", "public_key"):
        doc.pop(k)
    forger = Ed25519PrivateKey.generate()
    sign_manifest(forger, doc, folder)
    assert json.loads((folder / MANIFEST).read_text())["public_key"] == public_key_pem(forger.public_key()).decode()

    with pytest.raises(InputError, match="pinned key"):
        verify_export(folder, pinned_public_key(home))
    bad = _verify_cli(folder, home)
    text = " ".join(bad.stderr.split())
    assert bad.returncode == 2 and "does not verify with the pinned key" in text and "not trusted" in text, text
    assert "Traceback" not in bad.stderr and "export verified" not in bad.stdout

    # Someone who really holds the forger's key as pinned (another instance's signing.pub) can check it.
    pub = tmp_path / "other-instance.pub"
    pub.write_bytes(public_key_pem(forger.public_key()))
    assert _verify_cli(folder, home, "--key", str(pub)).returncode == 0


def test_verify_without_a_pinned_key_refuses(tmp_path):
    other, folder = tmp_path / "other", tmp_path / "export"
    _export(other, folder)
    res = _verify_cli(folder, tmp_path / "empty-home")
    assert res.returncode == 2 and "no pinned public key" in " ".join(res.stderr.split()), res.stderr
