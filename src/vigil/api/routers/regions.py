"""Regions: the four-level administrative tree, and their outlines as a map layer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from vigil.access.guard import check_permission
from vigil.api.deps import CurrentPrincipal, ReadSessionDep, SessionDep
from vigil.api.params import Offset, RegionCode
from vigil.api.public.registry import RegionNodePublic
from vigil.api.versioning import IfMatch, expected_versions, layer_response, set_etag
from vigil.core.models import Region
from vigil.registry import service as svc
from vigil.registry.region_layer import region_layer_json, region_layer_tag
from vigil.registry.schemas import (
    Page,
    RegionDetailPublic,
    RegionIn,
    RegionMapPublic,
    RegionPatch,
    RegionPublic,
)

router = APIRouter()


def region_json(r: Region) -> dict:
    """Public shape of a region in a list (whether it has an outline, not the outline)."""
    return {"code": r.code, "name": r.name, "level": r.level, "parent_code": r.parent_code,
            "lon": r.lon, "lat": r.lat, "has_outline": r.outline is not None}


def region_detail_json(r: Region) -> dict:
    """Public shape of one region, with its outline."""
    return {**region_json(r), "outline": r.outline}


@router.get("", response_model=Page[RegionPublic])
def list_regions(p: CurrentPrincipal, session: SessionDep, parent: str | None = None, level: int | None = None,
                 q: str = "", limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 offset: Offset = 0) -> dict[str, Any]:
    """Search regions in scope."""
    items, total = svc.list_regions(session, p, parent=parent, level=level, q=q, limit=limit, offset=offset)
    return {"items": [region_json(r) for r in items], "total": total, "limit": limit, "offset": offset}


@router.get("/tree", response_model=list[RegionNodePublic])
def tree(p: CurrentPrincipal, session: SessionDep, root: str | None = None,
         depth: Annotated[int, Query(ge=0, le=4)] = 1) -> list[dict]:
    """The region tree below ``root`` (or the caller's scopes) with camera counts."""
    return svc.region_tree(session, p, root=root, depth=depth)


@router.get("/geojson", response_model=RegionMapPublic, responses={304: {"description": "the layer is unchanged"}})
def regions_geojson(p: CurrentPrincipal, session: ReadSessionDep, region: str | None = None,
                    ancestors: Annotated[bool, Query(description="also the outlines of the region's ancestors "
                                                                 "in scope")] = False,
                    if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """Outlines of the regions in scope (in ``region``'s subtree) as one GeoJSON FeatureCollection (a map layer).

    Like ``/sites/geojson``: an ETag that follows the outlines, ``Cache-Control: private, no-cache``, and 304 for
    an If-None-Match that still holds.
    """
    check_permission(p, "registry.read")
    return layer_response(region_layer_tag(session, p, region, ancestors=ancestors), if_none_match,
                          lambda: region_layer_json(session, p, region, ancestors=ancestors))


@router.get("/{code}", response_model=RegionDetailPublic)
def get_region(code: RegionCode, p: CurrentPrincipal, session: SessionDep, response: Response) -> dict[str, Any]:
    """One region with its outline; its ETag is the version to send as If-Match."""
    r = svc.get_region(session, p, code)
    set_etag(response, session, r)
    return region_detail_json(r)


@router.post("", status_code=201, response_model=RegionDetailPublic)
def create_region(body: RegionIn, p: CurrentPrincipal, session: SessionDep) -> dict[str, Any]:
    """Add a region (admin), optionally with its outline."""
    return region_detail_json(svc.create_region(session, p, body))


@router.patch("/{code}", response_model=RegionDetailPublic)
def update_region(code: RegionCode, body: RegionPatch, p: CurrentPrincipal, session: SessionDep, response: Response,
                  if_match: IfMatch = None) -> dict[str, Any]:
    """Rename, move or outline a region (admin; with If-Match: only if it is still at that version, else 412).

    ``outline: null`` clears the outline.
    """
    r = svc.update_region(session, p, code, body, versions=expected_versions(if_match))
    set_etag(response, session, r)
    return region_detail_json(r)


@router.delete("/{code}", status_code=204)
def delete_region(code: RegionCode, p: CurrentPrincipal, session: SessionDep) -> None:
    """Delete an empty region (admin)."""
    svc.delete_region(session, p, code)
