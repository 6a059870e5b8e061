"""The catalog change feed between two real instances (SQLite), transport in-process."""

from __future__ import annotations

import pytest
from fedkit import CITY, TOWN_A, TOWN_B, VILLAGE_A, add_cameras, instance, link, sync
from sqlalchemy import func, select, update

from vigil.access.guard import Scope
from vigil.access.users import Principal
from vigil.core.errors import AccessDenied, AuthError, NotFoundError
from vigil.core.models import Camera, Role, Site
from vigil.federation.apply import apply_batch
from vigil.federation.links import ShareRules, link_for_token, parent_link
from vigil.federation.models import Direction, FedChange, FedLink, FedRemote
from vigil.federation.peer import authenticate_link, list_links, list_remote
from vigil.federation.publish import build_batch
from vigil.federation.sources import region_sources
from vigil.health.models import CameraStatus, StatusChange
from vigil.health.probe import ProbeResult
from vigil.health.state import apply_results


@pytest.fixture
def pair(tmp_path):
    town = instance(tmp_path, "town", TOWN_A)
    village = instance(tmp_path, "village", VILLAGE_A)
    token = link(town, village, "village", VILLAGE_A)
    yield town, village, token
    town.close()
    village.close()


def _cams(v):
    with v.db.session() as s:
        return {c.id: c for c in s.scalars(select(Camera))}


def test_catalog_arrives_without_urls_or_credentials_and_is_marked_remote(pair):
    town, village, _ = pair
    ids = add_cameras(village, VILLAGE_A, 5)
    sync(village, town, "village")
    with town.db.session() as s:
        got = {c.id: c for c in s.scalars(select(Camera))}
        assert set(ids) <= set(got)
        for cid in ids:
            c = got[cid]
            assert (c.main_url, c.sub_url, c.username, c.password_enc, c.onvif_url) == ("", "", "", None, "")
            assert c.site is not None and c.site.protection_class == 3
        (health,) = list_links(s, Scope.everything())
        assert health.cameras == 5 and health.age_s is not None and health.seq > 0 and health.errors == 0
        assert list_links(s, Scope.of([TOWN_B])) == []
        remote = list_remote(s, Scope.everything())
        assert {r.id for r in remote} == set(ids) and {r.origin for r in remote} == {"village"}
        assert list_remote(s, Scope.of([TOWN_B])) == []
        two = sorted(ids)[:2]
        picked = list_remote(s, Scope.everything(), ids=two)
        assert [r.id for r in picked] == two and picked[0].link_region == VILLAGE_A and picked[0].age_s is not None
        assert len(list_remote(s, Scope.everything(), region=VILLAGE_A)) == len(ids)
        assert list_remote(s, Scope.everything(), region=TOWN_B) == []


def test_the_dashboard_sources_name_each_instance_and_the_age_of_its_data(pair):
    town, village, _ = pair
    add_cameras(village, VILLAGE_A, 4)
    sync(village, town, "village")
    own = add_cameras(town, VILLAGE_A, 1, start=500)  # one camera of the town's own, in the same village
    with town.db.session() as s:
        got = region_sources(s, Principal(1, "chief", Role.ADMIN, (TOWN_A,)), TOWN_A)
        outside = Principal(2, "other", Role.ADMIN, (TOWN_B,))
        with pytest.raises(NotFoundError):
            region_sources(s, outside, TOWN_A)
    assert own and got.region.code == TOWN_A and got.region.cameras == 5
    local, remote = got.region.sources
    assert (local.origin, local.link, local.cameras, local.age_s) == ("", None, 1, None)
    assert (remote.origin, remote.link, remote.cameras) == ("village", "village", 4) and remote.age_s is not None
    assert [(c.code, c.cameras, [x.origin for x in c.sources]) for c in got.children] == [(VILLAGE_A, 5, ["", "village"])]


def test_applying_the_same_batch_twice_changes_nothing(pair):
    town, village, _ = pair
    add_cameras(village, VILLAGE_A, 3)
    with village.db.session() as s:
        batch = build_batch(s, ShareRules(), 0)
    with town.db.session() as s:
        link = s.scalar(select(FedLink).where(FedLink.name == "village"))
        first = apply_batch(s, link, batch)
        again = apply_batch(s, link, batch)
    assert first.applied and not again.applied and again.seq == first.seq == batch["last"]
    with town.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Camera)) == 3
        assert s.scalar(select(func.count()).select_from(Site)) == 1


def test_updates_deletes_and_unshare_propagate(pair):
    town, village, _ = pair
    ids = add_cameras(village, VILLAGE_A, 4)
    sync(village, town, "village")
    with village.db.session() as s:
        s.get(Camera, ids[0]).name = "renamed gate"
        s.delete(s.get(Camera, ids[1]))
        s.execute(update(Camera).where(Camera.id == ids[2]).values(kind="key_site"))  # a bulk statement
    sync(village, town, "village")
    got = _cams(town)
    assert got[ids[0]].name == "renamed gate" and ids[1] not in got and got[ids[2]].kind == "key_site"
    from vigil.federation.links import set_rules

    with village.db.session() as s:
        set_rules(s, ShareRules(exclude=[ids[3]], kinds=["public_area"]), actor="test")
    sync(village, town, "village")
    got = _cams(town)
    assert set(got) == {ids[0]}, "un-shared cameras (excluded, kind not shared) must leave the parent"
    with town.db.session() as s:
        assert s.scalar(select(func.count()).select_from(FedRemote).where(FedRemote.kind == "camera")) == 1


def test_child_cannot_publish_outside_its_subtree(pair):
    town, village, _ = pair
    with village.db.session() as s:
        batch = build_batch(s, ShareRules(), 0)
    stray = "53010202001132000099"
    batch["entries"].append({"op": "upsert", "kind": "camera", "key": stray,
                             "data": {"id": stray, "name": "stray", "region_code": TOWN_B, "lon": 1, "lat": 1}})
    batch["entries"].append({"op": "upsert", "kind": "region", "key": TOWN_B,
                             "data": {"code": TOWN_B, "name": "not yours"}})
    with town.db.session() as s:
        res = apply_batch(s, s.scalar(select(FedLink).where(FedLink.name == "village")), batch)
        assert len(res.refused) == 2
        assert s.get(Camera, stray) is None
        assert s.scalar(select(FedLink.errors).where(FedLink.name == "village")) == 2


def test_status_changes_flow_up_with_their_history(pair):
    town, village, _ = pair
    ids = add_cameras(village, VILLAGE_A, 2)
    with village.db.session() as s:
        apply_results(s, [ProbeResult(ids[0], "", "online", "", 3.0), ProbeResult(ids[1], "", "online", "", 3.0)])
    sync(village, town, "village")
    with village.db.session() as s:
        for _ in range(2):
            apply_results(s, [ProbeResult(ids[0], "", "down", "timeout", 0.0)])
    sync(village, town, "village")
    with town.db.session() as s:
        st = s.get(CameraStatus, ids[0])
        assert st.state == "down" and st.reason == "timeout"
        assert s.get(CameraStatus, ids[1]).state == "online"
        hist = list(s.scalars(select(StatusChange.state).where(StatusChange.camera_id == ids[0])
                              .order_by(StatusChange.ts)))
        assert hist == ["online", "down"]


def test_tokens_only_hashed_and_users_cannot_publish(pair):
    town, village, token = pair
    with town.db.session() as s:
        link = s.scalar(select(FedLink).where(FedLink.name == "village"))
        assert token not in repr(vars(link)) and link.token_sha256 and link.peer_token_enc is None
        assert link_for_token(s, token, Direction.CHILD).id == link.id
        with pytest.raises(AuthError):
            link_for_token(s, token + "x", Direction.CHILD)
        with pytest.raises(AuthError):
            authenticate_link(s, "not-a-token", Direction.CHILD)
    from factories import build_world  # noqa: F401 - world with user tokens lives in the api tests

    with village.db.session() as s:
        pl = parent_link(s)
        assert token.encode() not in (pl.peer_token_enc or b"") and village.box.open(pl.peer_token_enc) == token
        assert s.scalar(select(func.count()).select_from(FedChange)) >= 1  # init's root region was logged


def test_user_token_on_a_peer_route_is_refused(tmp_path):
    from vigil.access.users import add_user, issue_token

    v = instance(tmp_path, "p", TOWN_A)
    with v.db.session() as s:
        tok = issue_token(s, add_user(s, "u1", "a-long-password", "admin", [TOWN_A]))
    with v.db.session() as s, pytest.raises(AccessDenied):
        authenticate_link(s, tok, Direction.CHILD)
    v.close()


def _kpi_history(village, ids, t0):
    """Ten hours at the village: an outage, a picture fault, two verified repairs, an open one, site coverage."""
    from datetime import timedelta

    from vigil.coverage.models import SiteCoverage
    from vigil.health.models import Alarm, MaintenanceTeam, QualityChange, WorkOrder

    with village.db.session() as s:
        apply_results(s, [ProbeResult(c, "", "online", "", 2.0) for c in ids], now=t0)
        for k in range(2):
            apply_results(s, [ProbeResult(ids[0], "", "down", "refused", 0.0)], now=t0 + timedelta(hours=3, minutes=k))
        s.add(QualityChange(camera_id=ids[1], ts=t0 + timedelta(hours=5), faults=["blur"], metrics={}))
        st = s.get(CameraStatus, ids[1])
        st.faults, st.faults_since = ["blur"], t0 + timedelta(hours=5)
        team = MaintenanceTeam(name="fix-it", contractor="Fix-It Ltd", region_code=VILLAGE_A)
        s.add(team)
        site = s.scalar(select(Site).where(Site.region_code == VILLAGE_A))
        s.add_all([SiteCoverage(region_code=VILLAGE_A, site_id=site.id, site_name=site.name, coverage=0.62,
                                targets=40, measured_at=t0),
                   SiteCoverage(region_code=VILLAGE_A, site_id=site.id, site_name=site.name, coverage=0.71,
                                targets=40, measured_at=t0 + timedelta(hours=2)),  # the newest counts
                   SiteCoverage(region_code=VILLAGE_A, site_name="market square", coverage=0.25, targets=10,
                                measured_at=t0 + timedelta(hours=1))])
        s.flush()
        orders = []
        for n, (cam, raised, hours) in enumerate(((ids[0], 3, 2.5), (ids[2], 1, 6.0), (ids[3], 2, None))):
            alarm = Alarm(camera_id=cam, region_code=VILLAGE_A, kind="offline", raised_at=t0 + timedelta(hours=raised))
            s.add(alarm)
            s.flush()
            wo = WorkOrder(alarm_id=alarm.id, camera_id=cam, region_code=VILLAGE_A, team_id=team.id if n else None,
                           opened_at=t0 + timedelta(hours=raised, minutes=5), due_at=t0 + timedelta(hours=30))
            s.add(wo)
            orders.append((wo, hours))
    return orders


def _verify(village, orders, t0):
    from datetime import timedelta

    from vigil.health.models import Alarm

    with village.db.session() as s:  # verified later, as the work-order flow does (an update of the row)
        for wo, hours in orders:
            if hours is not None:
                wo = s.merge(wo)
                wo.state, wo.verified_at = "closed", s.get(Alarm, wo.alarm_id).raised_at + timedelta(hours=hours)
                wo.closed_at = wo.verified_at


def test_parent_kpis_equal_the_childs_for_its_cameras(tmp_path):
    """Online rate (time-weighted and now), integrity, coverage and repair time: two levels up they equal the village's."""
    from datetime import timedelta

    from vigil.core.models import utcnow
    from vigil.health.kpi import compute_kpis

    city, town, village = (instance(tmp_path, n, c) for n, c in (("city", CITY), ("town", TOWN_A),
                                                                   ("village", VILLAGE_A)))
    try:
        link(city, town, "town", TOWN_A)
        link(town, village, "village", VILLAGE_A)
        ids = add_cameras(village, VILLAGE_A, 4)
        t0 = utcnow() - timedelta(hours=10)
        orders = _kpi_history(village, ids, t0)
        sync(village, town, "village")
        sync(town, city, "town")
        _verify(village, orders, t0)  # the repairs are verified after the first publication
        sync(village, town, "village")
        sync(town, city, "town")
        end = utcnow()
        report = {}
        for name, v in (("village", village), ("town", town), ("city", city)):
            with v.db.session() as s:
                report[name] = compute_kpis(s, VILLAGE_A, period="1d", end=end, now=end)
        mine = report["village"].regions[0]
        assert mine.cameras == 4 and 0 < mine.online_rate < 1 and mine.integrity_rate < mine.online_rate
        assert mine.coverage_rate == pytest.approx((0.71 * 40 + 0.25 * 10) / 50) and mine.sites == 2
        assert mine.repairs == 2 and mine.repair_median_h == pytest.approx(4.25)
        for name in ("town", "city"):
            theirs = report[name].regions[0]
            for field in ("cameras", "online_rate", "online_now", "integrity_rate", "coverage_rate", "sites",
                          "repairs", "repair_median_h", "repair_p90_h"):
                assert getattr(theirs, field) == pytest.approx(getattr(mine, field)), (name, field)
            assert report[name].contractors == report["village"].contractors, name
        with town.db.session() as s:  # the town's own tree rolls the village up too
            assert compute_kpis(s, TOWN_A, period="1d", end=end, now=end).regions[0].repairs == 2
    finally:
        for v in (city, town, village):
            v.close()


def _coverage(*levels):
    """The coverage rate and site count of the village as each instance computes it now."""
    from vigil.core.models import utcnow
    from vigil.health.kpi import compute_kpis

    end = utcnow()
    out = []
    for v in levels:
        with v.db.session() as s:
            r = compute_kpis(s, VILLAGE_A, period="1d", end=end, now=end).regions[0]
            out.append((r.coverage_rate, r.sites))
    return out


def test_a_deleted_coverage_measurement_leaves_the_parents_kpi_too(vigil, tmp_path):
    """Coverage rows deleted at the village (with their plan, one by one, in bulk) leave both levels above.

    The village runs on SQLite and on PostgreSQL (where the plan's rows go by the database's cascade).
    """
    from datetime import timedelta

    from sqlalchemy import delete

    from vigil.access.bootstrap import init_instance
    from vigil.core.models import utcnow
    from vigil.coverage.models import PlanRecord, SiteCoverage
    from vigil.federation.links import set_rules

    init_instance(vigil, root_code=VILLAGE_A, root_name="village")
    city, town, village = instance(tmp_path, "city", CITY), instance(tmp_path, "town", TOWN_A), vigil

    def up():
        sync(village, town, "village")
        sync(town, city, "town")

    try:
        link(city, town, "town", TOWN_A)
        link(town, village, "village", VILLAGE_A)
        ids = add_cameras(village, VILLAGE_A, 4)
        t0 = utcnow() - timedelta(hours=10)
        _kpi_history(village, ids, t0)
        with village.db.session() as s:  # a plan measured the site later than the other rows
            site = s.scalar(select(Site).where(Site.region_code == VILLAGE_A))
            plan = PlanRecord(name="plan", region_code=VILLAGE_A, summary={})
            s.add(plan)
            s.flush()
            s.add(SiteCoverage(plan_id=plan.id, region_code=VILLAGE_A, site_id=site.id, site_name=site.name,
                               coverage=0.9, targets=40, measured_at=t0 + timedelta(hours=4)))
            plan_id, site_id, site_name = plan.id, site.id, site.name
        up()
        first = _coverage(village, town, city)
        assert first[0] == (pytest.approx((0.9 * 40 + 0.25 * 10) / 50), 2) and first[1:] == [first[0]] * 2
        with village.db.session() as s:  # the plan goes (its row by cascade), the market square's row alone
            s.delete(s.get(PlanRecord, plan_id))
            s.delete(s.scalar(select(SiteCoverage).where(SiteCoverage.site_name == "market square")))
        up()
        second = _coverage(village, town, city)
        assert second[0] == (pytest.approx(0.71), 1) and second[1:] == [second[0]] * 2
        with village.db.session() as s:  # the newest row in bulk; the next one may take its id (SQLite)
            newest = s.scalar(select(func.max(SiteCoverage.id)))
            s.execute(delete(SiteCoverage).where(SiteCoverage.id == newest))
            s.add(SiteCoverage(region_code=VILLAGE_A, site_id=site_id, site_name=site_name, coverage=0.5,
                               targets=40, measured_at=t0 + timedelta(hours=6)))
        up()
        third = _coverage(village, town, city)
        assert third[0] == (pytest.approx(0.5), 1) and third[1:] == [third[0]] * 2
        for v in (village, town, city):  # no measurement is left twice anywhere
            with v.db.session() as s:
                assert s.scalar(select(func.count()).select_from(SiteCoverage)) == 2
        with village.db.session() as s:  # un-shared, the site's measurements leave with it; re-shared, they return
            set_rules(s, ShareRules(regions=[TOWN_B]), actor="test")
        up()
        for v in (town, city):
            with v.db.session() as s:
                assert s.scalar(select(func.count()).select_from(SiteCoverage)) == 0
                assert s.scalar(select(func.count()).select_from(FedRemote).where(FedRemote.kind == "coverage")) == 0
        with village.db.session() as s:
            set_rules(s, ShareRules(), actor="test")
        up()
        assert _coverage(village, town, city) == [third[0]] * 3
    finally:
        for v in (city, town):
            v.close()


def test_unshared_camera_takes_its_repairs_away(pair):
    """A repair goes up only with its camera: an excluded camera's repair leaves the parent's KPI."""
    from datetime import timedelta

    from vigil.core.models import utcnow
    from vigil.federation.links import set_rules
    from vigil.health.kpi import compute_kpis

    town, village, _ = pair
    ids = add_cameras(village, VILLAGE_A, 4)
    t0 = utcnow() - timedelta(hours=10)
    orders = _kpi_history(village, ids, t0)
    _verify(village, orders, t0)
    sync(village, town, "village")
    end = utcnow()
    with town.db.session() as s:
        assert compute_kpis(s, VILLAGE_A, period="1d", end=end, now=end).regions[0].repairs == 2
    with village.db.session() as s:
        set_rules(s, ShareRules(exclude=[ids[2]]), actor="test")
    sync(village, town, "village")
    with town.db.session() as s:
        got = compute_kpis(s, VILLAGE_A, period="1d", end=end, now=end).regions[0]
    assert got.cameras == 3 and got.repairs == 1 and got.repair_median_h == pytest.approx(2.5)


def test_feed_on_each_database_and_relayed_upward(vigil, tmp_path):
    """The parent on SQLite and PostgreSQL: applied objects are logged again for its own parent."""
    from vigil.access.bootstrap import init_instance

    init_instance(vigil, root_code=TOWN_A, root_name="town")
    village = instance(tmp_path, "village", VILLAGE_A)
    try:
        link(vigil, village, "village", VILLAGE_A)
        ids = add_cameras(village, VILLAGE_A, 3)
        with village.db.session() as s:
            apply_results(s, [ProbeResult(c, "", "online", "", 2.0) for c in ids])
        sync(village, vigil, "village")
        with vigil.db.session() as s:
            assert set(ids) <= set(s.scalars(select(Camera.id)))
            assert s.get(CameraStatus, ids[0]).state == "online"
            logged = set(s.scalars(select(FedChange.key).where(FedChange.kind == "camera")))
            assert set(ids) <= logged, "a relay must publish what it applied"
            batch = build_batch(s, ShareRules(), 0)
        cams = [e for e in batch["entries"] if e["kind"] == "camera"]
        assert {e["data"]["origin"] for e in cams} == {"village"} and len(cams) == 3
        assert sum(1 for e in batch["entries"] if e["kind"] == "status") == 3
    finally:
        village.close()


def test_batches_stay_under_the_parents_body_limit(pair, monkeypatch):
    """Sites with large polygons: the publisher halves its batch until it fits, and nothing is skipped."""
    import gzip
    import json

    from vigil.federation import service
    from vigil.federation.service import next_batch

    monkeypatch.setattr(service, "MAX_BATCH_BYTES", 4_000)  # the same rule, a few sites a batch
    MAX_BATCH_BYTES = service.MAX_BATCH_BYTES  # noqa: N806
    town, village, _ = pair
    ring = [[102.7 + i * 1e-6, 25.0 + (i % 7) * 1e-6] for i in range(300)]
    with village.db.session() as s:
        for i in range(24):
            s.add(Site(name=f"big {i}", region_code=VILLAGE_A, geometry={"type": "Polygon", "coordinates": [ring]}))
    link, batch, body, _token = next_batch(village, 2000, 0.0)
    assert batch["entries"] and len(body) <= MAX_BATCH_BYTES
    assert json.loads(gzip.decompress(body))["entries"] == batch["entries"], "the body is the gzipped batch"
    assert batch["last"] < max_seq(village), "a smaller batch was needed"
    sync(village, town, "village", limit=8)
    with town.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Site)) == 24


def max_seq(v):
    with v.db.session() as s:
        return s.scalar(select(func.max(FedChange.seq)))


def test_log_is_pruned_after_acknowledgement_and_numbering_never_restarts(pair):
    from vigil.federation.changes import prune

    town, village, _ = pair
    add_cameras(village, VILLAGE_A, 3)
    sync(village, town, "village")
    with village.db.session() as s:
        acked = parent_link(s).seq
        prune(s, acked)
        assert s.scalar(select(func.min(FedChange.seq))) == acked
        prune(s, acked + 10_000)  # an answer beyond our log keeps our newest entry
        assert s.scalar(select(func.count()).select_from(FedChange)) == 1
    ids = add_cameras(village, VILLAGE_A, 1, start=50)
    with village.db.session() as s:
        assert s.scalar(select(func.max(FedChange.seq))) > acked
    sync(village, town, "village")
    assert ids[0] in _cams(town)


def test_a_rename_beside_a_bulk_delete_in_one_session_goes_up_too(pair):
    """The bulk statement's keys are logged at commit; the ORM change pending beside them is not lost."""
    from sqlalchemy import delete

    town, village, _ = pair
    ids = add_cameras(village, VILLAGE_A, 2)
    sync(village, town, "village")
    with village.db.session() as s:
        s.execute(delete(Camera).where(Camera.id == ids[1]))
        s.get(Camera, ids[0]).name = "renamed"
    sync(village, town, "village")
    cams = _cams(town)
    assert ids[1] not in cams and cams[ids[0]].name == "renamed"
