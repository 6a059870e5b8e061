"""Rollups: camera counts over the region tree."""

from __future__ import annotations

from fastapi import APIRouter

from vigil.access.guard import check_permission
from vigil.api.deps import CurrentPrincipal, SessionDep
from vigil.registry import cameras as svc

router = APIRouter()


@router.get("")
def rollup(p: CurrentPrincipal, session: SessionDep, region: str | None = None) -> dict:
    """Counts per child region, by kind, owner and lifecycle, for ``region`` (default: the caller's scope)."""
    check_permission(p, "registry.read")
    return svc.rollup(session, p, region)
