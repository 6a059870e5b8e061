"""The demo shows every feature: cameras named after town 1's real communities (a search for 金色 finds
them), a maintenance team per town with the history's work orders spread over them, analytics with zones
on a few streaming cameras, and the streaming cameras (enough for a 3×3 wall) recorded."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from vigil.access.bootstrap import init_instance
from vigil.access.users import add_user, issue_token
from vigil.analytics.settings import enabled_cameras
from vigil.analytics.zones import parse_zones
from vigil.api.app import create_app
from vigil.core.models import Camera
from vigil.demo.city import build_demo_city
from vigil.demo.cli import demo_services
from vigil.demo.extras import CONTRACTORS, WALL_STREAMS, demo_streaming_ids, seed_analytics, seed_teams
from vigil.demo.fleet import DemoFleet
from vigil.demo.history import seed_history
from vigil.health.models import MaintenanceTeam, WorkOrder
from vigil.registry.streams import in_service_population
from vigil.video.models import RecordingSegment
from vigil.video.recorder import RecorderConfig
from vigil.video.service import RecordingService


@pytest.fixture
def demo_city(sqlite_vigil):
    v = sqlite_vigil
    init_instance(v, root_code="5301", root_name="昆明市")
    build_demo_city(v, cameras=2000)
    return v


def test_town1_cameras_carry_their_community_names_and_search_finds_jinse(demo_city):
    v = demo_city
    with v.db.session() as s:
        u = add_user(s, "duty", "a-long-password", "duty_officer", ["5301"])
        token = issue_token(s, u)
    client = TestClient(create_app(v))
    r = client.get("/api/v1/cameras", params={"q": "金色"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    found = r.json()["items"]
    assert found and all(c["name"].startswith("金色年华-小区出入口-") for c in found)
    assert all(c["region_code"].startswith("53018101") for c in found)


def test_teams_and_orders_spread_over_contractors(demo_city):
    v = demo_city
    seed_history(v, days=7)
    rep = seed_teams(v)
    assert rep["teams"] == 16 and rep["orders_assigned"] > 0
    assert seed_teams(v) == {"teams": 0, "orders_assigned": 0}     # a second run adds nothing
    with v.db.session() as s:
        teams = {t.id: t for t in s.scalars(select(MaintenanceTeam))}
        orders = list(s.scalars(select(WorkOrder)))
    assert Counter(t.contractor for t in teams.values()).keys() == set(CONTRACTORS)
    assert all(o.team_id in teams and o.region_code.startswith(teams[o.team_id].region_code) for o in orders)
    assert len({teams[o.team_id].contractor for o in orders}) == 3


def test_analytics_zones_on_streaming_cameras(demo_city):
    v = demo_city
    wall = demo_streaming_ids(v, sim=20547, streams=WALL_STREAMS)
    assert len(wall) == WALL_STREAMS == 9
    with v.db.session() as s:
        cams = [s.get(Camera, c) for c in wall]
        assert s.scalar(select(Camera.id).where(Camera.id.in_(wall), ~in_service_population("5301"))) is None
    assert all(c.region_code.startswith("53018101") and c.kind == "community_entrance" for c in cams)
    seed_analytics(v, wall[:3])
    enabled, _ = enabled_cameras(v)
    assert sorted(c.camera_id for c in enabled) == sorted(wall[:3])
    zones = parse_zones(enabled[0].zones)
    assert {r.type for r in zones.rules} == {"intrusion", "loitering"}


def test_demo_services_record_the_streaming_cameras(demo_city):
    """The demo's own service list records exactly the cameras its fleet streams, and they really record."""
    v = demo_city
    services = demo_services(v, sim=3, streams=2, faults="")
    fleet = services[0]
    rec = next(s for s in services if isinstance(s, RecordingService))
    assert isinstance(fleet, DemoFleet) and rec.recorder.camera_ids == demo_streaming_ids(v, sim=3, streams=2)
    cfg = RecorderConfig(segment_s=2, stall_s=6, backoff_min_s=0.3, backoff_max_s=2, retention_every_s=1,
                         min_free_bytes=0, io_timeout_s=3)

    async def run() -> set[str]:
        await fleet.start()
        fast = await RecordingService(v, list(rec.recorder.camera_ids), cfg).start()
        try:
            for _ in range(300):
                with v.db.session() as s:
                    done = set(s.scalars(select(RecordingSegment.camera_id)))
                if done >= set(rec.recorder.camera_ids):
                    return done
                await asyncio.sleep(0.1)
            return done
        finally:
            await asyncio.wait_for(fast.stop(), 30)
            await fleet.stop()

    assert asyncio.run(run()) >= set(rec.recorder.camera_ids)
    assert fleet.streaming == set(rec.recorder.camera_ids)


@pytest.mark.slow  # builds, seeds and plans a 2,000-camera city (minutes on 2 cores): `make test-slow`
def test_demo_quick_build_from_the_cli(tmp_path):
    from typer.testing import CliRunner

    from vigil.cli import app
    from vigil.core.context import Vigil

    home = str(tmp_path / "home")
    r = CliRunner().invoke(app, ["demo", "--cameras", "2000", "--no-serve", "--home", home], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "Maintenance: 16 teams" in r.output and "zone on 3 camera(s)" in r.output
    v = Vigil.open(None, home)
    try:
        enabled, _ = enabled_cameras(v)
        assert sorted(c.camera_id for c in enabled) == sorted(demo_streaming_ids(v, sim=20547, streams=9)[:3])
        with v.db.session() as s:
            assert s.scalar(select(Camera.id).where(Camera.name.like("金色年华-%"))) is not None
            assert s.scalar(select(WorkOrder.id).where(WorkOrder.team_id.is_(None))) is None
    finally:
        v.close()
