"""The audit log: browse and verify (auditors and admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import ColumnElement, func, or_, select

from vigil.access.audit import record, verify_chain
from vigil.access.users import Principal
from vigil.api.deps import SessionDep, require
from vigil.api.public.registry import AuditPagePublic, AuditVerifyPublic
from vigil.core.models import AuditEntry

router = APIRouter()
Auditor = Depends(require("audit.read"))


def _visible(p: Principal) -> ColumnElement[bool]:
    """Entries about objects in the caller's regions; entries with no region only for top-level scopes."""
    scope = p.scope
    cond = scope.clause(AuditEntry.region_code)
    if any(len(s) <= 4 for s in scope.roots()):
        cond = or_(cond, AuditEntry.region_code.is_(None))
    return cond


@router.get("", response_model=AuditPagePublic)
def list_entries(session: SessionDep, actor: str | None = None, action: str | None = None,
                 target: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 offset: Annotated[int, Query(ge=0)] = 0, p: Principal = Auditor) -> dict:
    """Audit entries, newest first (reading the log is itself audited)."""
    stmt = select(AuditEntry).where(_visible(p))
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action))
    if target:
        stmt = stmt.where(AuditEntry.target == target)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)).all()
    items = [{"seq": e.seq, "ts": e.ts, "actor": e.actor, "action": e.action, "target": e.target,
              "detail": e.detail, "hash": e.hash} for e in rows]
    record(session, p.name, "audit.read", "audit", region=p.scope.roots()[0], actor=actor, action=action, target=target)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get("/verify", response_model=AuditVerifyPublic)
def verify(session: SessionDep, p: Principal = Auditor) -> dict:
    """Check the whole hash chain."""
    rep = verify_chain(session)
    return {"ok": rep.ok, "entries": rep.entries, "first_bad_seq": rep.first_bad_seq, "reason": rep.reason}
