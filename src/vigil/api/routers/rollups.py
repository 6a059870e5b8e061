"""Rollups: camera counts over the region tree."""

from __future__ import annotations

from fastapi import APIRouter

from vigil.access.guard import check_permission
from vigil.api.deps import CurrentPrincipal, SessionDep
from vigil.api.public.registry import RollupPublic, RollupsPublic
from vigil.registry import cameras as svc

router = APIRouter()


@router.get("", response_model=RollupPublic | RollupsPublic)
def rollup(p: CurrentPrincipal, session: SessionDep, region: str | None = None) -> dict:
    """Counts per child region, by kind, owner and lifecycle, for ``region`` (default: the caller's scope).

    Without ``region``, a caller with several scope roots gets one rollup per root (``regions``).
    """
    check_permission(p, "registry.read")
    return svc.rollup(session, p, region)
