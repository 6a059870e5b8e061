"""Geometry that survives real data: CRS handling, repairs, tile pieces, point buildings, bad input."""

import json

import numpy as np
import pyogrio
import pytest
import shapely
from covkit import mapdata, point, poly, write_geojson
from pyproj import Transformer

from vigil.core.errors import InputError
from vigil.coverage.geo import DEFAULT_HEIGHT_M, load_buildings, load_lines

LON, LAT = 102.72, 25.07
D = 0.0003  # about 30 m


def _square(x, y, d=D, **props):
    return poly([(x, y), (x + d, y), (x + d, y + d), (x, y + d)], **props)


def test_wgs84_and_3857_give_the_same_local_geometry(tmp_path):
    a = write_geojson(tmp_path / "a.geojson", [_square(LON, LAT, height=20)])
    to3857 = Transformer.from_crs(4326, 3857, always_xy=True)
    ring = [to3857.transform(x, y) for x, y in [(LON, LAT), (LON + D, LAT), (LON + D, LAT + D), (LON, LAT + D)]]
    b = write_geojson(tmp_path / "b.geojson", [poly(ring, height=20)], crs="EPSG:3857")
    ba, fa = load_buildings(a)
    bb, fb = load_buildings(b)
    assert fa.crs.to_epsg() == 32648 == fb.crs.to_epsg()
    assert ba.polygons[0].area == pytest.approx(bb.polygons[0].area, rel=1e-6)
    assert 800 < ba.polygons[0].area < 1100  # about 30 m x 33 m
    assert shapely.hausdorff_distance(ba.polygons[0], bb.polygons[0]) < 0.01


def test_projected_coordinates_claiming_wgs84_are_rejected(tmp_path):
    p = write_geojson(tmp_path / "wrong.geojson", [_square(11435000, 2885000, d=30)])
    with pytest.raises(InputError, match="cannot be lon/lat"):
        load_buildings(p)
    b, frame = load_buildings(p, crs="EPSG:3857")  # the user names the CRS: accepted
    assert len(b) == 1 and frame.crs.to_epsg() == 32648


@pytest.mark.filterwarnings("ignore:.crs. was not provided")
def test_missing_crs_with_projected_coordinates(tmp_path):
    geom = shapely.box(11435000, 2885000, 11435030, 2885030)
    p = tmp_path / "nocrs.gpkg"
    pyogrio.raw.write(p, np.array([shapely.to_wkb(geom)], dtype=object), [np.array(["20"])], fields=["height"],
                      geometry_type="Polygon", driver="GPKG")
    with pytest.raises(InputError, match="no CRS"):
        load_buildings(p)
    b, _ = load_buildings(p, crs="EPSG:3857")
    assert b.heights.tolist() == [20.0]


def test_invalid_footprint_is_repaired(tmp_path):
    bowtie = poly([(LON, LAT), (LON + D, LAT + D), (LON + D, LAT), (LON, LAT + D)], height=12)
    b, _ = load_buildings(write_geojson(tmp_path / "bow.geojson", [bowtie]))
    assert all(p.is_valid for p in b.polygons) and len(b) == 2
    assert any("repaired" in w for w in b.warnings)


def test_tile_pieces_merge_and_points_become_squares(tmp_path):
    left = poly([(LON, LAT), (LON + D, LAT), (LON + D, LAT + D), (LON, LAT + D)], id=7, height=30)
    right = poly([(LON + D, LAT), (LON + 2 * D, LAT), (LON + 2 * D, LAT + D), (LON + D, LAT + D)], id=7, height=30)
    lone = point(LON + 0.002, LAT, id=9, kind="building")
    label = point(LON + D, LAT + D / 2, id=7, kind="building")  # a label point inside a footprint
    b, _ = load_buildings(write_geojson(tmp_path / "tiles.geojson", [left, right, lone, label]))
    assert len(b) == 2
    merged = b.polygons[b.ids.index("7")]
    assert merged.geom_type == "Polygon" and len(merged.interiors) == 0
    assert b.polygons[b.ids.index("9")].area == pytest.approx(64)
    assert any("merged" in w for w in b.warnings) and any("squares" in w for w in b.warnings)


def test_missing_heights_get_a_default_and_a_warning(tmp_path):
    b, _ = load_buildings(write_geojson(tmp_path / "h.geojson", [_square(LON, LAT), _square(LON + 0.001, LAT,
                                                                                              levels=4)]))
    assert b.heights.tolist() == [DEFAULT_HEIGHT_M, 12.0]
    assert any("no height" in w for w in b.warnings)


@pytest.mark.parametrize(("content", "msg"), [
    ({"type": "FeatureCollection", "features": []}, "no building"),
    ({"type": "FeatureCollection", "features": [point(LON, LAT, kind="road")]}, "no building"),
    ("this is not json", "not a readable"),
])
def test_unusable_input_gets_a_clear_error(tmp_path, content, msg):
    p = tmp_path / "bad.geojson"
    p.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(InputError, match=msg):
        load_buildings(p)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_buildings(tmp_path / "nope.geojson")


def test_real_osm_xml_buildings_and_ways():
    p = mapdata("shanghai_shu/map.osm")
    b, frame = load_buildings(p)
    assert len(b) >= 98 and frame.crs.to_epsg() == 32651
    ways = load_lines(p, frame)
    assert len(ways) > 150 and all(w.geom_type == "LineString" for w in ways)


def test_real_tile_data_merges_repeated_ids():
    b, _ = load_buildings(mapdata("wuhan_tilezen/buildings.geojson"))
    assert len(set(b.ids)) <= len(b)
    assert any("merged" in w for w in b.warnings)
    assert all(p.is_valid for p in b.polygons)


def test_osm_pbf_reads_the_same_buildings_and_ways_as_xml(tmp_path):
    """The same campus as PBF (converted by Debian's osmium-tool) gives the same footprints and ways."""
    import shutil
    import subprocess

    osmium = shutil.which("osmium")
    assert osmium, "osmium-tool is installed by scripts/install-system-deps.sh"
    xml = mapdata("shanghai_shu/map.osm")
    pbf = tmp_path / "campus.osm.pbf"
    subprocess.run([osmium, "cat", str(xml), "-o", str(pbf)], check=True, capture_output=True)
    bx, frame = load_buildings(xml)
    bp, _ = load_buildings(pbf, frame=frame)
    assert len(bp) == len(bx)
    assert abs(sum(p.area for p in bp.polygons) - sum(p.area for p in bx.polygons)) < 1.0
    assert len(load_lines(pbf, frame)) == len(load_lines(xml, frame))
