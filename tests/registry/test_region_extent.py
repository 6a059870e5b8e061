"""A region's extent (vigil.registry.extent): the nearest outline up the tree, else the hull of its subtree's sites,
cameras and reference points, with a margin; a map beyond it is refused; a region with nothing placed is judged by
its nearest placed ancestor, and a tree with nothing placed refuses nothing."""

from __future__ import annotations

import math

import pytest
import shapely
from shapely.geometry import shape

from vigil.access.bootstrap import init_instance
from vigil.core.ids import generate_device_id
from vigil.core.models import Camera, Region, Site
from vigil.i18n import translate_line
from vigil.registry.extent import (
    MARGIN_M,
    AreaOutsideRegion,
    ExtentBasis,
    check_in_region,
    nearest_extent,
    outline_extent,
    region_extent,
)

# 昆明: a town whose village has a site polygon; a town with one camera only; a town with nothing placed
PREF, TOWN_SITE, VILLAGE, TOWN_CAM, TOWN_EMPTY = "5301", "53010101", "53010101001", "53010102", "53010103"
LON, LAT = 102.70, 25.00


def _square(lon: float, lat: float, d: float) -> dict:
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture
def tree(vigil):  # type: ignore[no-untyped-def]
    init_instance(vigil, root_code=PREF, root_name="昆明市")
    with vigil.db.session() as s:
        for code, name in ((TOWN_SITE, "有站点的镇"), (TOWN_CAM, "只有摄像机的镇"), (TOWN_EMPTY, "空镇")):
            s.add(Region(code=code, name=name, level=3, parent_code=PREF))
        s.flush()
        s.add(Region(code=VILLAGE, name="金色家园社区", level=4, parent_code=TOWN_SITE))
        s.flush()
        s.add(Site(name="金色家园", kind="residential", protection_class=1, region_code=VILLAGE,
                   geometry=_square(LON, LAT, 0.01)))  # a polygon only: no point
        s.add(Camera(id=generate_device_id(TOWN_CAM, 1).value, name="路口", region_code=TOWN_CAM,
                     lon=LON + 0.5, lat=LAT, lifecycle="in_service", main_url="rtsp://127.0.0.1:9/x"))
    return vigil


def _km_east(km: float, lat: float = LAT) -> float:
    """Degrees of longitude for ``km`` east at ``lat``."""
    return km / (111.320 * math.cos(math.radians(lat)))


def _point(east_km_of_square: float) -> shapely.Point:
    """A point ``east_km_of_square`` km east of the site square's eastern edge."""
    return shapely.Point(LON + 0.01 + _km_east(east_km_of_square), LAT)


@pytest.mark.parametrize(("region", "geom", "refused_by"), [
    (VILLAGE, shapely.Point(LON, LAT), None),                  # inside the site polygon
    (VILLAGE, _point(9.5), None),                              # beyond the polygon, within the margin
    (VILLAGE, _point(12.0), VILLAGE),                          # a neighbouring county
    (TOWN_SITE, _point(12.0), TOWN_SITE),                      # a town's extent is its village's site
    (PREF, _point(12.0), None),                                # the prefecture also holds the camera 0.5° east
    (TOWN_CAM, shapely.Point(LON + 0.5, LAT + 0.05), None),    # 5.5 km from its only camera
    (TOWN_CAM, shapely.Point(121.47, 31.23), TOWN_CAM),        # Shanghai for a Kunming town
    (TOWN_EMPTY, _point(12.0), None),                          # nothing placed: judged by the prefecture
    (TOWN_EMPTY, shapely.Point(121.47, 31.23), PREF),          # ... which refuses Shanghai
])
def test_a_map_outside_the_regions_extent_is_refused(tree, region, geom, refused_by) -> None:
    with tree.db.session() as s:
        if refused_by is None:
            check_in_region(s, region, geom)
            return
        with pytest.raises(AreaOutsideRegion) as err:
            check_in_region(s, region, geom)
    exc = err.value
    assert exc.region_code == refused_by and exc.distance_m > MARGIN_M and exc.margin_m == MARGIN_M
    assert f"outside region {refused_by}" in str(exc) and "km from the region's sites and cameras" in str(exc)


def test_a_tree_with_nothing_placed_refuses_nothing(vigil) -> None:
    init_instance(vigil, root_code=PREF, root_name="昆明市")
    with vigil.db.session() as s:
        s.add(Region(code=TOWN_EMPTY, name="空镇", level=3, parent_code=PREF))
        s.flush()
        assert nearest_extent(s, TOWN_EMPTY) is None
        check_in_region(s, TOWN_EMPTY, shapely.Point(121.47, 31.23))


def test_the_extent_is_the_hull_of_the_subtree(tree) -> None:
    with tree.db.session() as s:
        assert region_extent(s, TOWN_EMPTY) is None
        village = region_extent(s, VILLAGE)
        pref = region_extent(s, PREF)
    assert village is not None and village.region_name == "金色家园社区"
    assert village.area.equals(shape(_square(LON, LAT, 0.01)))
    # the prefecture's hull reaches from the site square to the camera half a degree east
    assert pref is not None and pref.area.bounds == pytest.approx((LON - 0.01, LAT - 0.01, LON + 0.5, LAT + 0.01))
    assert village.distance_m(shapely.Point(LON, LAT)) == 0.0
    assert village.distance_m(_point(3.0)) == pytest.approx(3000.0, rel=0.01)


def _outline(s, code: str, outline: dict | None) -> None:  # type: ignore[no-untyped-def]
    s.get(Region, code).outline = outline
    s.flush()


def _east_of_outline(km: float) -> shapely.Point:
    """A point ``km`` east of the town outline's eastern edge (``_square(LON, LAT, 0.05)``)."""
    return shapely.Point(LON + 0.05 + _km_east(km), LAT)


@pytest.mark.parametrize(("region", "geom", "refused_by"), [
    (VILLAGE, _point(12.0), None),                     # beyond the village's site hull, within the town's outline
    (VILLAGE, _east_of_outline(9.5), None),            # the margin around the outline
    (VILLAGE, _east_of_outline(11.0), TOWN_SITE),      # the town's outline refuses it, for its village
    (TOWN_SITE, _east_of_outline(11.0), TOWN_SITE),
    (TOWN_CAM, shapely.Point(121.47, 31.23), TOWN_CAM),  # no outline up its tree: its hull, as before
])
def test_the_nearest_outline_up_the_tree_is_the_extent(tree, region, geom, refused_by) -> None:
    with tree.db.session() as s:
        _outline(s, TOWN_SITE, _square(LON, LAT, 0.05))
        ext = nearest_extent(s, region)
        assert ext is not None and ext.basis == (ExtentBasis.OUTLINE if refused_by != TOWN_CAM else ExtentBasis.PLACES)
        if refused_by is None:
            check_in_region(s, region, geom)
            return
        with pytest.raises(AreaOutsideRegion) as err:
            check_in_region(s, region, geom)
    assert err.value.region_code == refused_by and err.value.distance_m > MARGIN_M
    said = "from the region's outline" if refused_by == TOWN_SITE else "from the region's sites and cameras"
    assert said in str(err.value)


def test_an_ancestors_outline_judges_the_whole_tree_and_clearing_it_restores_the_hull(tree) -> None:
    with tree.db.session() as s:
        _outline(s, PREF, {"type": "MultiPolygon", "coordinates": [_square(LON, LAT, 0.05)["coordinates"],
                                                                   _square(LON + 0.5, LAT, 0.05)["coordinates"]]})
        town = nearest_extent(s, TOWN_EMPTY)
        assert town is not None and (town.region_code, town.basis) == (PREF, ExtentBasis.OUTLINE)
        check_in_region(s, TOWN_EMPTY, shapely.Point(LON + 0.5, LAT + 0.05))  # in the second part
        with pytest.raises(AreaOutsideRegion, match="outside region 5301"):
            check_in_region(s, TOWN_CAM, shapely.Point(LON + 0.25, LAT + 0.3))  # 33 km north, between the parts
        _outline(s, PREF, None)
        assert nearest_extent(s, TOWN_EMPTY).basis == ExtentBasis.PLACES  # type: ignore[union-attr]
        check_in_region(s, TOWN_CAM, shapely.Point(LON + 0.5, LAT + 0.05))
        assert outline_extent(s, "12") is None  # not a region code: nothing says where it lies


def test_an_outline_refusal_reads_in_chinese(tree) -> None:
    with tree.db.session() as s, pytest.raises(AreaOutsideRegion) as err:
        _outline(s, TOWN_SITE, _square(LON, LAT, 0.05))
        check_in_region(s, VILLAGE, _east_of_outline(30.0))
    said = translate_line(str(err.value), "zh-CN")
    assert said.startswith(f"地图不在区域 {TOWN_SITE}（有站点的镇）范围内：距该区域边界 30.0 公里"), said
