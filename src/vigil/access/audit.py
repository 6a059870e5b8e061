"""The append-only, hash-chained audit log.

Each entry's hash is SHA-256 over its sequence number, time, actor, action, target,
canonical JSON detail and the previous entry's hash. Editing, deleting or reordering
any entry breaks the chain, which :func:`verify_chain` reports.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.core.models import AuditEntry, Secret, utcnow

__all__ = ["GENESIS", "ChainReport", "record", "verify_chain"]

GENESIS = "0" * 64
_HEAD_KEY = "audit_head"


def _digest(seq: int, ts: datetime, actor: str, action: str, target: str, region: str | None,
            detail: dict[str, Any], prev: str) -> str:
    body = json.dumps(
        [seq, ts.isoformat(timespec="microseconds"), actor, action, target, region, detail, prev],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(session: Session, actor: str, action: str, target: str = "", /, *, region: str | None = None,
           **detail: Any) -> AuditEntry:
    """Append one entry in the caller's transaction.

    ``region`` is the region code of the object concerned: it decides who may read the entry.

    On PostgreSQL the tail row is locked so concurrent writers serialise; on SQLite the
    database write lock does the same.
    """
    stmt = select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    last = session.execute(stmt).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    ts = utcnow()
    clean = json.loads(json.dumps(detail, default=str))
    entry = AuditEntry(seq=seq, ts=ts, actor=actor, action=action, target=target, region_code=region,
                       detail=clean, prev_hash=prev,
                       hash=_digest(seq, ts, actor, action, target, region, clean, prev))
    session.add(entry)
    anchor = session.get(Secret, _HEAD_KEY)
    if anchor is None:
        session.add(Secret(key=_HEAD_KEY, value=f"{seq}:{entry.hash}"))
    else:
        anchor.value = f"{seq}:{entry.hash}"
    session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of verifying the audit chain."""

    entries: int
    ok: bool
    first_bad_seq: int | None = None
    reason: str = ""


def verify_chain(session: Session) -> ChainReport:
    """Walk the whole log and check every link and every hash."""
    prev = GENESIS
    expected_seq = 1
    n = 0
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()
    for e in rows:
        n += 1
        if e.seq != expected_seq:
            return ChainReport(n, False, e.seq, f"entry {expected_seq} is missing (found {e.seq} next)")
        if e.prev_hash != prev:
            return ChainReport(n, False, e.seq, f"entry {e.seq} does not link to the entry before it")
        if _digest(e.seq, e.ts, e.actor, e.action, e.target, e.region_code, e.detail or {}, e.prev_hash) != e.hash:
            return ChainReport(n, False, e.seq, f"entry {e.seq} was altered after it was written")
        prev = e.hash
        expected_seq += 1
    anchor = session.get(Secret, _HEAD_KEY)
    if anchor is not None and anchor.value != f"{expected_seq - 1}:{prev}":
        return ChainReport(n, False, expected_seq, "the newest entries were removed (chain head does not match)")
    if anchor is None and n:
        return ChainReport(n, False, None, "the chain head anchor is missing")
    return ChainReport(n, True)
