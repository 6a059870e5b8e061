"""The append-only audit log, chained with an HMAC whose key lives outside the database.

Each entry's hash is HMAC-SHA256(key, previous hash || canonical entry), where the canonical
entry is the JSON of its sequence number, time, actor, action, target, region and detail. The
key is ``<home>/audit.key`` (0600), never in the database, so someone who can write the
database but does not hold the key cannot recompute the chain after an edit. The newest
(seq, hash) is kept twice: in the database (sealed with the key) and, after every commit that
added entries, as a line appended to ``<home>/audit-head.log`` (0600) and optionally sent to
syslog, so that deleting the newest entries is noticed too. :func:`verify_chain` checks all of it.

Entries written before the chain was keyed (plain SHA-256) stay valid only as a prefix closed
by a keyed ``audit.rekey`` entry that names their last hash (written once, by the migration).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import logging.handlers
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, event, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from vigil.core.config import Settings
from vigil.core.crypto import load_or_create_key
from vigil.core.db import serialize
from vigil.core.errors import VigilError
from vigil.core.models import AuditEntry, Secret, utcnow

__all__ = ["GENESIS", "ChainReport", "read_heads", "record", "seal_legacy", "verify_chain"]

GENESIS = "0" * 64
REKEY = "audit.rekey"
_HEAD_KEY = "audit_head"
_PENDING = "vigil.audit.pending"
log = logging.getLogger(__name__)
# The first entry (it names the chain) and the newest one (the next links to it), in one statement.
_ENDS = select(AuditEntry.seq, AuditEntry.hash).where(
    or_(AuditEntry.seq == 1, AuditEntry.seq == select(func.max(AuditEntry.seq)).scalar_subquery()))
_SET_ANCHOR = update(Secret).where(Secret.key == _HEAD_KEY).values(value=bindparam("value"))
_ADD_ENTRY, _ADD_ANCHOR = insert(AuditEntry), insert(Secret)  # built once, as their cache keys


def _canonical(seq: int, ts: datetime, actor: str, action: str, target: str, region: str | None,
               detail: dict[str, Any]) -> bytes:
    return json.dumps(
        [seq, ts.isoformat(timespec="microseconds"), actor, action, target, region, detail],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    ).encode()


def _mac(key: bytes, prev: str, body: bytes) -> str:
    return hmac.new(key, prev.encode() + body, hashlib.sha256).hexdigest()


def _legacy_digest(e: AuditEntry) -> str:
    """The unkeyed SHA-256 of entries written before the chain was keyed."""
    body = json.dumps(
        [e.seq, e.ts.isoformat(timespec="microseconds"), e.actor, e.action, e.target, e.region_code,
         e.detail or {}, e.prev_hash],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _entry_mac(key: bytes, e: AuditEntry) -> str:
    return _mac(key, e.prev_hash, _canonical(e.seq, e.ts, e.actor, e.action, e.target, e.region_code, e.detail or {}))


def _anchor(key: bytes, seq: int, h: str) -> str:
    return f"{seq}:{h}:{_mac(key, h, f'head:{seq}'.encode())}"


def _settings(session: Session) -> Settings:
    settings = session.info.get("settings")
    if not isinstance(settings, Settings):
        raise VigilError("the audit log needs the instance's audit key: open the instance with Vigil.open")
    return settings


def record(session: Session, actor: str, action: str, target: str = "", /, *, region: str | None = None,
           **detail: Any) -> AuditEntry:
    """Append one entry in the caller's transaction.

    ``region`` is the region code of the object concerned: it decides who may read the entry.

    Appends are serialised (:func:`vigil.core.db.serialize`: an advisory lock on PostgreSQL, the
    write lock taken at BEGIN IMMEDIATE on SQLite), so two entries never get the same sequence
    number; locking the tail row would not do, as a waiter would then re-read the old tail.
    The head is written outside the database after commit.
    """
    settings = _settings(session)
    key = load_or_create_key(settings.audit_key_file)
    session.flush()  # the caller's pending objects first, as a query's autoflush would
    serialize(session, "vigil.audit.append")
    conn = session.connection()  # Core statements in the session's transaction: a fraction of the ORM's cost
    ends = dict(conn.execute(_ENDS).all())  # {seq: hash} of the first and the newest entry
    seq = max(ends, default=0) + 1
    prev = ends.get(seq - 1, GENESIS)
    ts = utcnow()
    clean = json.loads(json.dumps(detail, default=str))
    h = _mac(key, prev, _canonical(seq, ts, actor, action, target, region, clean))
    values = {"seq": seq, "ts": ts, "actor": actor, "action": action, "target": target, "region_code": region,
              "detail": clean, "prev_hash": prev, "hash": h}
    conn.execute(_ADD_ENTRY, values)
    anchor = _anchor(key, seq, h)
    if not conn.execute(_SET_ANCHOR, {"value": anchor}).rowcount:
        conn.execute(_ADD_ANCHOR, {"key": _HEAD_KEY, "value": anchor})
    if (loaded := session.identity_map.get(identity_key(Secret, _HEAD_KEY))) is not None:
        session.expire(loaded, ["value"])  # this session read the anchor before: it reads the new one next
    session.info[_PENDING] = (seq, h, h if seq == 1 else ends.get(1, ""))
    _hook(type(session))
    return AuditEntry(**values)  # a detached copy: the row was written by the statement above


_HOOKED_CLASSES: set[type[Session]] = set()
_HOOKING = threading.Lock()


def _hook(cls: type[Session]) -> None:
    """Write the head after commit, for every session of ``cls`` that appended (registered once per class).

    Once per session class rather than once per session: registering on each new session cost about
    as much as the append's own statements. The hooks do nothing in a session that appended nothing.
    """
    if cls in _HOOKED_CLASSES:
        return
    with _HOOKING:  # two first appends at once register the hooks once
        if cls not in _HOOKED_CLASSES:
            event.listen(cls, "after_commit", _after_commit)
            event.listen(cls, "after_soft_rollback", _after_rollback)
            _HOOKED_CLASSES.add(cls)


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is not None:
        write_head(_settings(session), *pending)


def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)  # a head not committed is never written out


def write_head(settings: Settings, seq: int, h: str, chain: str) -> None:
    """Append the chain head to the head file (and syslog if configured); never fails the caller.

    ``chain`` (the hash of entry 1) names the chain, so two databases used with one home stay apart.
    """
    line = f"{utcnow().isoformat(timespec='seconds')} {seq} {h} {chain}\n"
    try:
        fd = os.open(settings.audit_head_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        log.warning("cannot append the audit head to %s: %s", settings.audit_head_file, exc.strerror)
    if settings.audit_syslog:
        _syslog(settings.audit_syslog).info("vigil audit head seq=%d hash=%s", seq, h)


@cache
def _syslog(address: str) -> logging.Logger:
    """A logger sending to syslog at ``host:port`` (UDP) or a local socket path such as /dev/log."""
    if address.startswith("/"):
        handler = logging.handlers.SysLogHandler(address=address)
    else:
        host, _, port = address.rpartition(":") if ":" in address else (address, "", "514")
        handler = logging.handlers.SysLogHandler(address=(host, int(port)))
    handler.setFormatter(logging.Formatter("vigil-audit: %(message)s"))
    logger = logging.getLogger(f"vigil.audit.syslog.{address}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


def read_heads(settings: Settings, chain: str | None) -> dict[int, str]:
    """Every (seq -> hash) of ``chain`` recorded in the head file outside the database (any chain if None)."""
    heads: dict[int, str] = {}
    try:
        text = settings.audit_head_file.read_text()
    except FileNotFoundError:
        return heads
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[1].isdigit() and chain in (None, parts[3]):
            heads[int(parts[1])] = parts[2]
    return heads


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of verifying the audit chain."""

    entries: int
    ok: bool
    first_bad_seq: int | None = None
    reason: str = ""


def verify_chain(session: Session) -> ChainReport:
    """Walk the whole log and check every link, every keyed hash, the anchor and the outside head."""
    settings = _settings(session)
    if not settings.audit_key_file.exists():
        return ChainReport(0, False, None, f"the audit key {settings.audit_key_file} is missing")
    key = load_or_create_key(settings.audit_key_file)
    first = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == 1))
    heads = read_heads(settings, first)
    prev, n, legacy, keyed = GENESIS, 0, 0, False
    for e in session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars():
        n += 1
        if e.seq != n:
            return ChainReport(n, False, e.seq, f"entry {n} is missing (found {e.seq} next)")
        if e.prev_hash != prev:
            return ChainReport(n, False, e.seq, f"entry {e.seq} does not link to the entry before it")
        if hmac.compare_digest(_entry_mac(key, e), e.hash):
            if legacy and not keyed and not (e.action == REKEY and (e.detail or {}).get("legacy_head") == prev):
                return ChainReport(n, False, 1, f"entries 1-{legacy} are not sealed with this instance's audit key")
            keyed = True
        elif not keyed and hmac.compare_digest(_legacy_digest(e), e.hash):
            legacy += 1
        else:
            return ChainReport(n, False, e.seq, f"entry {e.seq} was altered after it was written, or its hash "
                                                "was recomputed without this instance's audit key")
        if heads.get(e.seq, e.hash) != e.hash:
            return ChainReport(n, False, e.seq, f"entry {e.seq} differs from the head recorded outside the database")
        prev = e.hash
    if legacy and not keyed:
        return ChainReport(n, False, 1, f"entries 1-{legacy} are not sealed with this instance's audit key")
    if heads and max(heads) > n:
        return ChainReport(n, False, n + 1, f"the newest entries were removed: the head file outside the database "
                                            f"records entry {max(heads)}, the log ends at {n}")
    if not n and read_heads(settings, None):
        return ChainReport(0, False, 1, "the log is empty, but the head file outside the database records entries")
    anchor = session.get(Secret, _HEAD_KEY)
    if anchor is None:
        return ChainReport(n, False, None, "the chain head anchor is missing") if n else ChainReport(0, True)
    if not hmac.compare_digest(anchor.value, _anchor(key, n, prev)):
        return ChainReport(n, False, n + 1, "the newest entries were removed (chain head does not match)")
    write_head(settings, n, prev, first or "")
    return ChainReport(n, True)


def seal_legacy(session: Session) -> bool:
    """Close a chain written before it was keyed with one keyed ``audit.rekey`` entry; True if sealed.

    Run once, by the migration that introduced the key: the old entries keep their SHA-256
    hashes and are protected from then on by the keyed entry that names the newest of them.
    """
    key = load_or_create_key(_settings(session).audit_key_file)
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()
    if last is None or hmac.compare_digest(_entry_mac(key, last), last.hash):
        return False
    record(session, "system", REKEY, "audit", legacy_entries=last.seq, legacy_head=last.hash)
    return True
