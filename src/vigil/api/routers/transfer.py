"""Bulk import (admins: ``registry.write``) and camera export (``registry.read``, within the caller's scope)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile

from vigil.access.guard import check_permission
from vigil.access.users import Principal
from vigil.api.deps import SessionDep, VigilDep, require
from vigil.core.errors import InputError
from vigil.registry.io import EXPORT_FORMATS, IMPORTERS, ExportFormat, export_cameras

router = APIRouter()

MAX_UPLOAD = 200 * 2**20
_HELP = {
    "regions": "Regions from CSV: code,name,level,parent[,lon,lat].",
    "sites": "Sites from CSV (name,region,kind,protection_class,sensitive,lon,lat,geometry) or GeoJSON polygons.",
    "models": "Camera models from CSV: name,vendor,h_res_px,v_res_px,hfov_deg,vfov_deg,ir_range_m,form_factor,"
              "unit_cost.",
    "cameras": "Cameras from CSV (id,name,region,site,lon,lat,...) or GeoJSON points; an empty id is generated.",
}
Upload = Annotated[UploadFile, File(description="CSV (UTF-8) or GeoJSON file; columns in docs/formats.md")]
DryRun = Annotated[bool, Query(description="check every row and report counts; store nothing")]


def _importer(kind: str) -> Callable[..., dict[str, Any]]:
    def handler(session: SessionDep, v: VigilDep, file: Upload, dry_run: DryRun = False,
                p: Principal = Depends(require("registry.write"))) -> dict[str, Any]:
        data = file.file.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise InputError(f"the file is larger than {MAX_UPLOAD // 2**20} MiB")
        kwargs: dict[str, Any] = {"box": v.box} if kind == "cameras" else {}
        rep = IMPORTERS[kind](session, data, actor=p.name, scope=p.scope, dry_run=dry_run, fmt="auto",
                              name=file.filename or "upload", **kwargs)
        return rep.as_dict()

    handler.__name__ = f"import_{kind}"
    handler.__doc__ = _HELP[kind] + " Any bad row rejects the whole file (problem+json with every row error)."
    return handler


for _kind in IMPORTERS:
    router.add_api_route(f"/import/{_kind}", _importer(_kind), methods=["POST"], summary=f"Import {_kind}")


@router.get("/export/cameras", response_class=Response,
            responses={200: {"content": {m: {} for m, _ in EXPORT_FORMATS.values()}}})
def export_cameras_route(session: SessionDep, v: VigilDep,
                         fmt: Annotated[ExportFormat, Query(alias="format")] = "csv",
                         region: Annotated[str | None, Query(description="only this region's subtree")] = None,
                         include_secrets: Annotated[bool, Query(description="admins only")] = False,
                         p: Principal = Depends(require("registry.read"))) -> Response:
    """Cameras in the caller's scope as CSV (import columns), GeoJSON points or GeoPackage. Audited."""
    if include_secrets:
        check_permission(p, "registry.secrets")
    data = export_cameras(session, scope=p.scope, fmt=fmt, region=region, box=v.box if include_secrets else None,
                          include_secrets=include_secrets, actor=p.name)
    media, ext = EXPORT_FORMATS[fmt]
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="cameras{ext}"'})
