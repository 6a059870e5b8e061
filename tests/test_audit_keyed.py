"""The keyed audit chain: rewrites without the key, truncation against the outside head, syslog, legacy seal."""

import hashlib
import hmac
import json
import multiprocessing
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import delete, select, update

from vigil.access.audit import GENESIS, read_heads, record, seal_legacy, verify_chain
from vigil.core.context import Vigil
from vigil.core.crypto import load_or_create_key
from vigil.core.db import _alembic_config
from vigil.core.models import AuditEntry, Secret

VIGIL = str(Path(sys.executable).with_name("vigil"))


def _write(v, n, actor="alice"):
    for i in range(n):
        with v.db.session() as s:
            record(s, actor, "camera.view", f"camera:{i}", reason="case 42")


def _sha_digest(e, prev):
    """What the old, unkeyed code computed: anyone can recompute it."""
    body = json.dumps([e.seq, e.ts.isoformat(timespec="microseconds"), e.actor, e.action, e.target,
                       e.region_code, e.detail or {}, prev], sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _hmac_digest(key):
    def digest(e, prev):
        body = json.dumps([e.seq, e.ts.isoformat(timespec="microseconds"), e.actor, e.action, e.target,
                           e.region_code, e.detail or {}], sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, default=str).encode()
        return hmac.new(key, prev.encode() + body, hashlib.sha256).hexdigest()
    return digest


def _rewrite(s, digest, anchor):
    """Recompute every hash and the anchor after an edit, as a database writer would."""
    prev = GENESIS
    for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        e.prev_hash, e.hash = prev, digest(e, prev)
        prev = e.hash
    s.get(Secret, "audit_head").value = anchor(e.seq, prev)
    s.flush()


@pytest.mark.parametrize("attacker", ["plain_sha256", "wrong_key"])
def test_rewrite_without_the_key_is_detected(vigil, attacker):
    _write(vigil, 5)
    with vigil.db.session() as s:
        assert verify_chain(s).ok
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(actor="mallory"))
        s.expire_all()
        if attacker == "plain_sha256":
            _rewrite(s, _sha_digest, lambda seq, h: f"{seq}:{h}")
        else:
            wrong = b"guessed-key-that-is-not-the-instance-key"
            _rewrite(s, _hmac_digest(wrong), lambda seq, h: _anchor_with(wrong, seq, h))
    with vigil.db.session() as s:
        assert not verify_chain(s).ok
    vigil.settings.audit_head_file.unlink()  # not thanks to the head file: the key alone tells
    with vigil.db.session() as s:
        rep = verify_chain(s)
    assert not rep.ok and rep.first_bad_seq == 1, rep
    assert "audit key" in rep.reason


def test_the_real_key_recomputes_the_chain(vigil):
    """The check above fails for want of the key, not because of how the rewrite is done."""
    _write(vigil, 3)
    key = vigil.settings.audit_key_file.read_bytes().strip()
    with vigil.db.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="mallory"))
        s.expire_all()
        _rewrite(s, _hmac_digest(key), lambda seq, h: _anchor_with(key, seq, h))
    vigil.settings.audit_head_file.unlink()
    with vigil.db.session() as s:
        assert verify_chain(s).ok


def _anchor_with(key, seq, h):
    return f"{seq}:{h}:{hmac.new(key, h.encode() + f'head:{seq}'.encode(), hashlib.sha256).hexdigest()}"


def test_truncation_with_a_replayed_anchor_is_caught_by_the_head_file(vigil):
    _write(vigil, 3)
    with vigil.db.session() as s:
        old_anchor = s.get(Secret, "audit_head").value  # an attacker kept a copy of the database
    _write(vigil, 2, actor="bob")
    heads = read_heads(vigil.settings, None)
    assert max(heads) == 5 and len(heads) == 5  # one head line per committed batch
    assert stat.S_IMODE(vigil.settings.audit_head_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(vigil.settings.audit_key_file.stat().st_mode) == 0o600
    with vigil.db.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 3))
        s.get(Secret, "audit_head").value = old_anchor
    with vigil.db.session() as s:
        rep = verify_chain(s)
    assert not rep.ok and "head file" in rep.reason and "entry 5" in rep.reason, rep


def test_deleting_the_whole_log_is_caught_by_the_head_file(vigil):
    _write(vigil, 2)
    with vigil.db.session() as s:
        s.execute(delete(AuditEntry))
        s.execute(delete(Secret).where(Secret.key == "audit_head"))
    with vigil.db.session() as s:
        rep = verify_chain(s)
    assert not rep.ok and "head file" in rep.reason, rep


def test_two_databases_with_one_home_keep_their_heads_apart(tmp_path):
    home = str(tmp_path / "home")
    a, b = (Vigil.open(f"sqlite:///{tmp_path / n}.db", home) for n in ("a", "b"))
    try:
        _write(a, 3)
        _write(b, 1)
        _write(a, 1)
        for v in (a, b):
            with v.db.session() as s:
                assert verify_chain(s).ok, v.settings.db_url
    finally:
        a.close()
        b.close()


def test_rolled_back_entries_write_no_head(vigil):
    _write(vigil, 1)
    with pytest.raises(RuntimeError), vigil.db.session() as s:
        record(s, "alice", "camera.view", "camera:x")
        raise RuntimeError("the caller's work failed")
    assert set(read_heads(vigil.settings, None)) == {1}
    with vigil.db.session() as s:
        assert verify_chain(s).ok


def test_head_is_sent_to_syslog(tmp_path, monkeypatch):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    monkeypatch.setenv("VIGIL_AUDIT_SYSLOG", f"127.0.0.1:{sock.getsockname()[1]}")
    v = Vigil.open(f"sqlite:///{tmp_path / 'v.db'}", str(tmp_path / "home"))
    try:
        with v.db.session() as s:
            h = record(s, "alice", "camera.view", "camera:1").hash
        msg = sock.recv(4096).decode()
    finally:
        v.close()
        sock.close()
    assert "vigil-audit" in msg and "seq=1" in msg and h in msg


def test_migration_seals_legacy_entries_once_and_they_stay_checked(vigil):
    """An instance from before the keyed chain: the upgrade closes its SHA-256 entries with one keyed entry."""
    cfg = _alembic_config(vigil.db.engine)
    cfg.attributes.update(vigil.db.info)
    command.downgrade(cfg, "0005_access_trust-1")
    _write(vigil, 3)
    with vigil.db.session() as s:  # what the old code wrote: plain SHA-256, unsealed anchor, no head file
        _rewrite(s, _sha_digest, lambda seq, h: f"{seq}:{h}")
    vigil.settings.audit_head_file.unlink()
    with vigil.db.session() as s:
        assert not verify_chain(s).ok
    command.upgrade(cfg, "heads")
    with vigil.db.session() as s:
        assert not seal_legacy(s)  # already keyed: nothing more to seal
        rep = verify_chain(s)
        assert rep.ok and rep.entries == 4, rep
        assert s.get(AuditEntry, 4).action == "audit.rekey"
        s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="mallory"))
    with vigil.db.session() as s:
        rep = verify_chain(s)
        assert not rep.ok and rep.first_bad_seq == 2


def test_cli_verify_fails_when_the_key_was_replaced(sqlite_vigil):
    v = sqlite_vigil
    _write(v, 2)
    args = [VIGIL, "audit", "verify", "--db", v.settings.db_url, "--home", str(v.settings.home)]
    ok = subprocess.run(args, capture_output=True, text=True)
    assert ok.returncode == 0 and "intact" in ok.stdout, ok.stdout + ok.stderr
    v.settings.audit_key_file.rename(v.settings.home / "elsewhere.key")
    bad = subprocess.run(args, capture_output=True, text=True)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "audit key" in " ".join(bad.stderr.split()), bad.stderr


def _key_of(path):
    return load_or_create_key(Path(path))


def test_processes_starting_together_share_one_key(tmp_path):
    with multiprocessing.get_context("fork").Pool(4) as pool:
        for i in range(5):
            keys = pool.map(_key_of, [str(tmp_path / f"audit{i}.key")] * 8)
            assert len(set(keys)) == 1 and len(keys[0]) == 44
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"audit{i}.key" for i in range(5)]  # no temp files left


def test_a_key_file_put_back_by_hand_is_read_again(tmp_path):
    """Keys are kept after the first read, but a file replaced (restored from a backup) is read again."""
    from vigil.core.crypto import load_or_create_key

    path = tmp_path / "audit.key"
    first = load_or_create_key(path)
    assert load_or_create_key(path) == first
    other = tmp_path / "backup.key"
    other.write_bytes(b"restored-key-0123456789\n")
    other.replace(path)
    assert load_or_create_key(path) == b"restored-key-0123456789"
