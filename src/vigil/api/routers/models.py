"""Camera models: the catalog of optics and costs."""

from __future__ import annotations

from fastapi import APIRouter

from vigil.access.guard import check_permission
from vigil.api.deps import CurrentPrincipal, SessionDep
from vigil.api.public.registry import CameraModelListPublic, CameraModelPublic
from vigil.core.models import CameraModel
from vigil.registry import service as svc
from vigil.registry.schemas import ModelIn

router = APIRouter()


def model_json(m: CameraModel) -> CameraModelPublic:
    """Public shape of a camera model."""
    return CameraModelPublic.model_validate({k: getattr(m, k) for k in CameraModelPublic.model_fields})


@router.get("")
def list_models(p: CurrentPrincipal, session: SessionDep) -> CameraModelListPublic:
    """All camera models."""
    check_permission(p, "registry.read")
    return CameraModelListPublic(items=[model_json(m) for m in svc.list_models(session)])


@router.post("", status_code=201)
def create_model(body: ModelIn, p: CurrentPrincipal, session: SessionDep) -> CameraModelPublic:
    """Add a camera model (admin)."""
    return model_json(svc.create_model(session, p, body))
