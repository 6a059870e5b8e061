import math

import pytest

from vigil.core.errors import InputError
from vigil.coverage.optics import (
    PROFILES,
    CameraSpec,
    catalog_from_dict,
    dead_zone_m,
    focal_px,
    horizontal_range_m,
    level_ppm,
    load_catalog,
    ppm_at,
    slant_range_m,
)


@pytest.mark.parametrize(("level", "metres"), [("detect", 51.2), ("observe", 20.48), ("recognise", 10.24),
                                                ("identify", 5.12), ("monitor", 102.4)])
def test_dori_distance_2560px_90deg(level, metres):
    f = focal_px(2560, 90)
    assert f == pytest.approx(1280)
    assert slant_range_m(f, level_ppm(level)) == pytest.approx(metres)
    assert ppm_at(f, metres) == pytest.approx(level_ppm(level))


def test_horizontal_range_uses_slant_distance():
    r = horizontal_range_m(1280, 25, 4.0, 1.5)
    assert r == pytest.approx(math.sqrt(51.2**2 - 2.5**2))
    assert horizontal_range_m(100, 25, 10.0, 1.5) == 0.0  # 4 m slant never reaches the ground from 10 m


@pytest.mark.parametrize(("level", "profile", "ppm", "error"), [
    ("observe", "dori2015", 62.5, None), ("Recognize", "dori2015", 125, None), ("discern", "iec2025", 80, None),
    ("scrutinise", "iec2025", 1500, None), ("200", "dori2015", 200, None),
    ("observe", "iec2025", None, "unknown level"), ("detect", "nope", None, "unknown profile"),
])
def test_levels_table(level, profile, ppm, error):
    if error:
        with pytest.raises(InputError, match=error):
            level_ppm(level, profile)
    else:
        assert level_ppm(level, profile) == ppm


def test_both_profiles_shipped():
    assert set(PROFILES) == {"dori2015", "iec2025"}
    assert PROFILES["iec2025"]["validate"] == 500


def test_dead_zone_formula():
    # r_min = (h - h_t) / tan(t + VFOV/2)
    assert dead_zone_m(4.0, 10.0, 50.0, 1.5) == pytest.approx(2.5 / math.tan(math.radians(35)))
    assert dead_zone_m(4.0, 70.0, 50.0, 1.5) == 0.0


def test_catalog_default_and_bad():
    cat = load_catalog()
    assert len(cat.models) >= 3 and all(m.cost > 0 for m in cat.models)
    spec = CameraSpec.from_dict({"name": "x", "h_res_px": 2560, "v_res_px": 1440, "hfov_deg": 90, "cost": 1})
    assert spec.vfov_deg == pytest.approx(2 * math.degrees(math.atan(1440 / 2560)))
    with pytest.raises(InputError, match="models"):
        catalog_from_dict({"models": []})
    with pytest.raises(InputError, match="bad"):
        catalog_from_dict({"models": [{"name": "y", "hfov_deg": 90}]})
    with pytest.raises(InputError, match="bad optics"):
        catalog_from_dict({"models": [{"name": "z", "h_res_px": 100, "hfov_deg": 0}]})
