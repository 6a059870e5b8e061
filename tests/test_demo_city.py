from collections import Counter

import pytest
from sqlalchemy import select

from vigil.access.bootstrap import init_instance
from vigil.core.errors import ConflictError
from vigil.core.ids import DeviceId
from vigil.core.models import Camera, Region, Site
from vigil.demo.city import CAMERA_MIX, build_demo_city, scaled_mix


def test_full_demo_city_matches_the_reference(sqlite_vigil):
    v = sqlite_vigil
    init_instance(v, root_code="5301", root_name="昆明市")
    city = build_demo_city(v)
    assert city.cameras == 20547 and city.by_kind == CAMERA_MIX
    with v.db.session() as s:
        levels = Counter(s.scalars(select(Region.level)))
        assert levels[1] == 1 and levels[2] == 1 and levels[3] == 16 and 880 <= levels[4] <= 920
        cams = s.execute(select(Camera.id, Camera.region_code, Camera.kind, Camera.password_enc)).all()
        assert len({c.id for c in cams}) == 20547
        for cid, region, _, pw in cams:
            assert DeviceId.parse(cid).belongs_to_region(region), (cid, region)
            assert pw and b"vigil" not in pw
        micro = Counter(r for _, r, k, _ in cams if k == "micro_checkpoint")
        assert set(micro.values()) == {2} and len(micro) == levels[4]
        sites = {s_.name: s_ for s_ in s.scalars(select(Site).where(Site.region_code.startswith("53018101")))}
    assert len(city.real_communities) == 16
    for name in city.real_communities:
        assert sites[name].geometry["type"] == "Polygon"
        assert 102.70 < sites[name].lon < 102.74 and 25.05 < sites[name].lat < 25.09


def test_scaled_city_on_both_databases(vigil):
    init_instance(vigil, root_code="5301", root_name="昆明市")
    city = build_demo_city(vigil, cameras=700)
    assert city.cameras == 700 and sum(scaled_mix(700).values()) == 700
    with pytest.raises(ConflictError):
        build_demo_city(vigil, cameras=10)


def test_demo_history_gives_realistic_kpis(sqlite_vigil):
    from vigil.demo.history import seed_history
    from vigil.health.kpi import compute_kpis

    v = sqlite_vigil
    init_instance(v, root_code="5301", root_name="昆明市")
    build_demo_city(v, cameras=2000)
    rep = seed_history(v, days=7)
    assert rep["repaired_episodes"] > 0
    with v.db.session() as s:
        k = compute_kpis(s, "530181", period="7d")
    city = k.regions[0]
    online, integrity = city.online_rate, city.integrity_rate
    # about 8 % of cameras had outages of a few hours in a week: the rate is high but not perfect
    assert 0.97 < online < 0.9999
    assert integrity <= online
    assert city.repairs > 0 and 0.5 < city.repair_median_h < 24


def test_demo_town_plan_feeds_the_coverage_kpi(sqlite_vigil):
    from vigil.demo.coverage import plan_demo_town
    from vigil.health.kpi import compute_kpis

    v = sqlite_vigil
    init_instance(v, root_code="5301", root_name="昆明市")
    build_demo_city(v, cameras=2000)
    summary = plan_demo_town(v)
    assert summary["coverage_after"] > summary["coverage_before"]
    assert len(summary["communities"]) == 16
    with v.db.session() as s:
        town = compute_kpis(s, "53018101", period="1d").regions[0]
    assert town.coverage_rate is not None and 0 < town.coverage_rate < 1
    assert abs(town.coverage_rate - summary["coverage_before"]) < 0.05


def test_demo_refuses_to_build_without_its_map(sqlite_vigil, tmp_path):
    """A missing map is a loud error, never a demo city with 0 real communities or an empty plan."""
    from vigil.core.errors import VigilError
    from vigil.demo.city import map_data_dir
    from vigil.demo.coverage import plan_demo_town

    assert (map_data_dir() / "kunming_jinjiang" / "buildings.geojson").is_file()
    v = sqlite_vigil
    init_instance(v, root_code="5301", root_name="昆明市")
    with pytest.raises(VigilError, match="real map is missing"):
        build_demo_city(v, cameras=200, data=tmp_path)
    with v.db.session() as s:
        assert s.scalar(select(Camera.id).limit(1)) is None
    with pytest.raises(VigilError, match="real map is missing"):
        plan_demo_town(v, data=tmp_path)
