"""KPIs from stored status changes, rolled up the region tree, against hand-computed values."""

from __future__ import annotations

from datetime import timedelta

import pytest
from healthkit import T0, add_camera

from vigil.core.errors import NotFoundError
from vigil.coverage.models import SiteCoverage
from vigil.health.kpi import compute_kpis, kpi_timeline
from vigil.health.models import Alarm, CameraStatus, MaintenanceTeam, QualityChange, StatusChange, WorkOrder

H = timedelta(hours=1)


def _populate(s):
    a = add_camera(s, "53010201001", 1)
    b = add_camera(s, "53010201002", 2)
    c = add_camera(s, "53010202", 3)
    d = add_camera(s, "53010201001", 4, lifecycle="retired")
    # A: online before the period, down [2h, 5h) -> online 7 of 10 h
    for cam, t, state in [(a, -5, "online"), (a, 2, "down"), (a, 5, "online"),
                          (b, 4, "online"),                        # B: unknown until 4 h -> 6 h
                          (c, -24, "down"), (c, 12, "online"),     # C: down all period
                          (d, -24, "online")]:                     # D: retired, never counted
        s.add(StatusChange(camera_id=cam, ts=T0 + t * H, state=state))
    # A: dark before the period until 1 h; B: blur [6 h, 8 h)
    for cam, t, faults in [(a, -1, ["dark"]), (a, 1, []), (b, 6, ["blur"]), (b, 8, [])]:
        s.add(QualityChange(camera_id=cam, ts=T0 + t * H, faults=faults))
    for cam, state in [(a, "online"), (b, "online"), (c, "down"), (d, "online")]:
        s.add(CameraStatus(camera_id=cam, state=state, since=T0))
    # coverage: the newer row of site 1 wins; site 2's row after the period is ignored
    for code, name, cov, n, t in [("53010201001", "S1", 0.5, 10, -48), ("53010201001", "S1", 0.8, 10, -24),
                                  ("53010201002", "S2", 0.4, 30, -24), ("53010201002", "S2", 1.0, 30, 20)]:
        s.add(SiteCoverage(region_code=code, site_name=name, coverage=cov, targets=n, measured_at=T0 + t * H,
                           level="detect"))
    # the same site measured at the identify level, older than its detect row: kept apart by the level filter
    s.add(SiteCoverage(region_code="53010201001", site_name="S1", coverage=0.3, targets=10, level="identify",
                       measured_at=T0 - 72 * H))
    acme = MaintenanceTeam(name="acme-a", contractor="Acme", region_code="53010201")
    bolt = MaintenanceTeam(name="bolt-b", contractor="Bolt", region_code="53010202")
    s.add_all([acme, bolt])
    s.flush()
    # repairs (raised, verified): 3 h, 1 h, 8 h for Acme in town A; 2 h for Bolt; one verified after the period
    for cam, team, raised, verified in [(a, acme, -2, 1), (b, acme, 0, 1), (a, acme, 1, 9), (c, bolt, 0, 2),
                                        (c, bolt, 0, 11)]:
        al = Alarm(camera_id=cam, region_code=_code(s, cam), kind="offline", raised_at=T0 + raised * H,
                   state="cleared")
        s.add(al)
        s.flush()
        s.add(WorkOrder(alarm_id=al.id, camera_id=cam, region_code=al.region_code, team_id=team.id,
                        state="closed", opened_at=al.raised_at, due_at=al.raised_at + 24 * H,
                        verified_at=T0 + verified * H, closed_at=T0 + verified * H))


def _code(s, cam):
    from vigil.core.models import Camera

    return s.get(Camera, cam).region_code


@pytest.fixture
def kpi_db(tree):
    with tree.db.session() as s:
        _populate(s)
    return tree


def _by_code(report):
    return {r.region_code: r for r in report.regions}


def test_online_and_integrity_rates_roll_up(kpi_db):
    with kpi_db.db.session() as s:
        rep = compute_kpis(s, "5301", period="10h", end=T0 + 10 * H, depth=3, now=T0 + 10 * H)
    k = _by_code(rep)
    expected = {  # code: (cameras, online, integrity, online now)
        "53010201001": (1, 0.7, 0.6, 1.0),
        "53010201002": (1, 0.6, 0.4, 1.0),
        "53010201": (2, 13 / 20, 10 / 20, 1.0),
        "53010202": (1, 0.0, 0.0, 0.0),
        "530102": (3, 13 / 30, 10 / 30, 2 / 3),
        "5301": (3, 13 / 30, 10 / 30, 2 / 3),
    }
    for code, (n, online, integrity, now) in expected.items():
        assert k[code].cameras == n, code
        assert k[code].online_rate == pytest.approx(online), code
        assert k[code].integrity_rate == pytest.approx(integrity), code
        assert k[code].online_now == pytest.approx(now), code


def test_period_cutting_through_an_outage(kpi_db):
    with kpi_db.db.session() as s:
        rep = compute_kpis(s, "53010201", period="3h", end=T0 + 6 * H, depth=1)
    k = _by_code(rep)
    assert k["53010201001"].online_rate == pytest.approx(1 / 3)   # A back at 5 h
    assert k["53010201002"].online_rate == pytest.approx(2 / 3)   # B up from 4 h
    assert k["53010201"].online_rate == pytest.approx(0.5)
    assert k["53010201002"].integrity_rate == pytest.approx(2 / 3)   # blur starts at 6 h: outside


def test_coverage_rate_uses_newest_row_per_site_weighted_by_targets(kpi_db):
    with kpi_db.db.session() as s:
        k = _by_code(compute_kpis(s, "530102", period="10h", end=T0 + 10 * H, depth=2))
    assert k["53010201001"].coverage_rate == pytest.approx(0.8)
    assert k["53010201"].coverage_rate == pytest.approx((0.8 * 10 + 0.4 * 30) / 40)
    assert k["53010201"].sites == 2
    assert k["53010202"].coverage_rate is None
    with kpi_db.db.session() as s:
        ident = _by_code(compute_kpis(s, "530102", period="10h", end=T0 + 10 * H, depth=2,
                                      coverage_level="identify"))
    assert ident["53010201"].coverage_rate == pytest.approx(0.3) and ident["53010201"].sites == 1


def test_repair_time_median_and_p90_per_region_and_contractor(kpi_db):
    with kpi_db.db.session() as s:
        rep = compute_kpis(s, "530102", period="10h", end=T0 + 10 * H, depth=1)
    k = _by_code(rep)
    assert (k["53010201"].repairs, k["53010201"].repair_median_h, k["53010201"].repair_p90_h) == \
        (3, pytest.approx(3.0), pytest.approx(7.0))
    assert (k["530102"].repairs, k["530102"].repair_median_h, k["530102"].repair_p90_h) == \
        (4, pytest.approx(2.5), pytest.approx(6.5))
    by = {c["contractor"]: c for c in rep.contractors}
    assert by["Acme"]["repair_median_h"] == pytest.approx(3.0)
    assert by["Bolt"]["repairs"] == 1 and by["Bolt"]["repair_p90_h"] == pytest.approx(2.0)


def test_depth_limits_the_tree_and_unknown_region_is_not_found(kpi_db):
    with kpi_db.db.session() as s:
        rep = compute_kpis(s, "530102", period="10h", end=T0 + 10 * H, depth=1)
        assert [r.region_code for r in rep.regions] == ["530102", "53010201", "53010202"]
        assert rep.to_dict()["period_hours"] == pytest.approx(10)
        with pytest.raises(NotFoundError):
            compute_kpis(s, "530199", period="1d")


def test_timeline_buckets(kpi_db):
    with kpi_db.db.session() as s:
        tl = kpi_timeline(s, "53010201", period="10h", step="5h", end=T0 + 10 * H)
    # A: [0,5): 2 h online, [5,10): 5 h; B: [0,5): 1 h, [5,10): 5 h
    assert [b["online_rate"] for b in tl] == [pytest.approx(3 / 10), pytest.approx(1.0)]
    # intact: A [1,2) + [5,10) ; B [4,5) + [5,6) + [8,10)
    assert [b["integrity_rate"] for b in tl] == [pytest.approx(2 / 10), pytest.approx(8 / 10)]
