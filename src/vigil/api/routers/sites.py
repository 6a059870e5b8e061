"""Sites: places that must be watched."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from vigil.access.guard import check_permission
from vigil.api.deps import CurrentPrincipal, ReadSessionDep, SessionDep
from vigil.api.params import Offset, RowId
from vigil.api.public.registry import SiteMapPublic
from vigil.api.versioning import IfMatch, expected_versions, layer_response, set_etag
from vigil.core.models import Site
from vigil.registry import service as svc
from vigil.registry.schemas import Page, SiteIn, SitePatch, SitePublic
from vigil.registry.site_layer import site_layer_json, site_layer_tag

router = APIRouter()


def site_json(s: Site) -> dict:
    """Public shape of a site."""
    return {"id": s.id, "name": s.name, "kind": s.kind, "protection_class": s.protection_class,
            "sensitive": s.sensitive, "region_code": s.region_code, "geometry": s.geometry,
            "lon": s.lon, "lat": s.lat}


@router.get("", response_model=Page[SitePublic])
def list_sites(p: CurrentPrincipal, session: SessionDep, region: str | None = None, kind: str | None = None,
               q: str = "", limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: Offset = 0) -> dict[str, Any]:
    """Search sites in scope."""
    items, total = svc.list_sites(session, p, region=region, kind=kind, q=q, limit=limit, offset=offset)
    return {"items": [site_json(s) for s in items], "total": total, "limit": limit, "offset": offset}


@router.get("/geojson", response_model=SiteMapPublic, responses={304: {"description": "the layer is unchanged"}})
def sites_geojson(p: CurrentPrincipal, session: ReadSessionDep, region: str | None = None,
                  if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """Sites in scope with a geometry as one GeoJSON FeatureCollection (the map's base layer).

    Its ETag follows the sites' changes and it is sent ``Cache-Control: private, no-cache``: a browser holding
    the layer asks again with If-None-Match and gets 304, without the polygons being read or encoded again.
    """
    check_permission(p, "registry.read")
    return layer_response(site_layer_tag(session, p, region), if_none_match,
                          lambda: site_layer_json(session, p, region))


@router.get("/{site_id}", response_model=SitePublic)
def get_site(site_id: RowId, p: CurrentPrincipal, session: SessionDep, response: Response) -> dict[str, Any]:
    """One site; its ETag is the version to send as If-Match."""
    s = svc.get_site(session, p, site_id)
    set_etag(response, session, s)
    return site_json(s)


@router.post("", status_code=201, response_model=SitePublic)
def create_site(body: SiteIn, p: CurrentPrincipal, session: SessionDep) -> dict[str, Any]:
    """Add a site (admin)."""
    return site_json(svc.create_site(session, p, body))


@router.patch("/{site_id}", response_model=SitePublic)
def update_site(site_id: RowId, body: SitePatch, p: CurrentPrincipal, session: SessionDep, response: Response,
                if_match: IfMatch = None) -> dict[str, Any]:
    """Change a site (admin; with If-Match: only if it is still at that version, else 412)."""
    s = svc.update_site(session, p, site_id, body, versions=expected_versions(if_match))
    set_etag(response, session, s)
    return site_json(s)


@router.delete("/{site_id}", status_code=204)
def delete_site(site_id: RowId, p: CurrentPrincipal, session: SessionDep) -> None:
    """Delete a site with no cameras (admin)."""
    svc.delete_site(session, p, site_id)
