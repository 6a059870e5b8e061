"""The demo city's towns get outlines (the hull of their sites, buffered, cut between neighbours): valid by the site
rule, holding their sites, not overlapping, and judged by the extent rule."""

from __future__ import annotations

import shapely
from shapely.geometry import shape
from sqlalchemy import select

from vigil.access.bootstrap import init_instance
from vigil.core.models import Region, Site
from vigil.demo.city import TOWNS, build_demo_city
from vigil.demo.outlines import BUFFER_M, town_outlines
from vigil.registry.extent import ExtentBasis, nearest_extent
from vigil.registry.geometry import validate_polygon


def test_the_demo_towns_have_outlines_around_their_sites(vigil) -> None:
    init_instance(vigil, root_code="5301", root_name="昆明市")
    build_demo_city(vigil, cameras=700)
    with vigil.db.session() as s:
        towns = {r.code: r.outline for r in s.scalars(select(Region).where(Region.level == 3))}
        sites = s.execute(select(Site.region_code, Site.lon, Site.lat)).all()
        village = s.scalar(select(Region.code).where(Region.level == 4, Region.code.startswith("53018105")))
        ext = nearest_extent(s, village)
        assert s.scalar(select(Region.outline).where(Region.level == 4).limit(1)) is None  # towns only
    assert len(towns) == len(TOWNS) and all(o is not None for o in towns.values())
    shapes = {code: shape(validate_polygon(o)) for code, o in towns.items()}
    for code, lon, lat in sites:  # every site's point lies in its own town's outline
        assert shapes[code[:8]].covers(shapely.Point(lon, lat)), (code, lon, lat)
    codes = sorted(shapes)
    for i, a in enumerate(codes):
        for b in codes[i + 1:]:
            assert shapes[a].intersection(shapes[b]).area < 1e-9, (a, b)
    assert ext is not None and (ext.region_code, ext.basis) == (village[:8], ExtentBasis.OUTLINE)


def test_an_outline_reaches_the_buffer_beyond_the_sites() -> None:
    site = Site(region_code="53018101001", geometry={"type": "Polygon", "coordinates": [[
        [102.70, 25.00], [102.71, 25.00], [102.71, 25.01], [102.70, 25.01], [102.70, 25.00]]]})
    out = town_outlines([{"code": "53018101", "lon": 102.705, "lat": 25.005}], [site])
    west = shape(out["53018101"]).bounds[0]
    metres = (102.70 - west) * 111_320 * 0.906  # cos(25°)
    assert abs(metres - BUFFER_M) < 25  # the buffer, less what the simplification takes
    assert town_outlines([], [site]) == {}
