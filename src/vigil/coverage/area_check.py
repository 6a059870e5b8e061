"""A plan's map checked against its region before the job is queued; :mod:`vigil.registry.extent` owns the rule."""

from __future__ import annotations

from pathlib import Path

import shapely
import shapely.errors
from sqlalchemy.orm import Session

from vigil.core.errors import InputError
from vigil.coverage.city_sites import area_files
from vigil.coverage.geo import read_features
from vigil.registry.extent import check_in_region

__all__ = ["area_outline", "check_city_area", "check_plan_area"]


def area_outline(path: str | Path) -> shapely.Geometry | None:
    """The convex hull (WGS84) of every feature of a map file; None for a file that cannot be read or is empty."""
    try:
        feats = read_features(path, osm_layer="multipolygons")
    except (InputError, shapely.errors.GEOSException):  # a broken geometry too: the job reports it
        return None
    return shapely.convex_hull(shapely.GeometryCollection([f.geom for f in feats])) if feats else None


def check_plan_area(session: Session, region_code: str, path: str | Path) -> None:
    """Refuse (:class:`~vigil.registry.extent.AreaOutsideRegion`) a map lying outside ``region_code``.

    A map that cannot be read passes here: its job fails at reading it, with that error, as before.
    """
    outline = area_outline(path)
    if outline is not None:
        check_in_region(session, region_code, outline)


def check_city_area(session: Session, region_code: str, path: str | Path) -> None:
    """Refuse a city plan's building layer when any of its areas (the file, or each area of a folder) lies outside."""
    for area in area_files(path):
        check_plan_area(session, region_code, area)
