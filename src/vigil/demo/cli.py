"""``vigil demo``: build the demo city on the embedded default and serve it."""

from __future__ import annotations

import dataclasses
import os
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

from vigil.cli_common import DbOpt, HomeOpt, console, ensure_port_free, open_instance, safe_db_url
from vigil.core.context import Vigil
from vigil.demo.extras import WALL_STREAMS, demo_streaming_ids, seed_analytics, seed_teams

DEMO_TIME_ZONE = "Asia/Shanghai"


def demo_services(v: Vigil, *, sim: int, streams: int, faults: str) -> list[Any]:
    """What ``vigil demo`` runs beside the API, recording the cameras that stream.

    The simulated fleet comes first (it binds the cameras' URLs), then ``vigil serve``'s services.
    """
    from vigil.api.cli import background_services  # the serve command's services (the API shell's module)
    from vigil.demo.fleet import DemoFleet

    fleet = DemoFleet(v, sim, streams=streams, faults=faults) if sim else None
    recorded = demo_streaming_ids(v, sim=sim, streams=streams) if fleet else []
    services: list[Any] = [fleet] if fleet else []
    return services + background_services(v, probe_interval=60.0, sample_interval=300.0,
                                          sample_only=fleet.streaming_ids if fleet else None,
                                          record=recorded or None)


def demo(cameras: Annotated[int, typer.Option(help="Number of cameras in the demo city")] = 20547,
         db: DbOpt = None, home: HomeOpt = None,
         host: Annotated[str, typer.Option(help="Address to serve on")] = "127.0.0.1",
         port: Annotated[int, typer.Option(help="TCP port")] = 8080,
         sim: Annotated[int, typer.Option(help="Cameras served by the simulator (0: none)")] = 20547,
         streams: Annotated[int, typer.Option(help="Simulated cameras that stream real H.264 (recorded; "
                                                  "9 fill a 3x3 wall)")] = WALL_STREAMS,
         analytics: Annotated[int, typer.Option(help="Streaming cameras given analytics with zones")] = 3,
         faults: Annotated[str, typer.Option(help="Fault mix injected into the simulated cameras")] = "mix:3%",
         serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve after building")] = True) -> None:
    """Build (once) and serve a realistic county-level city of ~20,547 cameras on SQLite."""
    from sqlalchemy import func, select

    from vigil.access.bootstrap import init_instance
    from vigil.access.users import generate_password, set_password
    from vigil.core.models import Camera, Region, User
    from vigil.demo.city import CITY, PREFECTURE, build_demo_city

    if serve:
        ensure_port_free(host, port)  # before minutes of building, and before the URL is printed
    v = open_instance(db, home, create=True)
    if not os.environ.get("VIGIL_TIME_ZONE"):  # the demo city is in Yunnan: its days are Beijing time
        v.settings = dataclasses.replace(v.settings, time_zone=DEMO_TIME_ZONE)
    with v.db.session() as s:
        has_users = bool(s.scalar(select(func.count()).select_from(User)))
        has_cameras = bool(s.scalar(select(func.count()).select_from(Camera)))
    if not has_users:
        init_instance(v, root_code=PREFECTURE[0], root_name=PREFECTURE[1])
    password = generate_password()
    with v.db.session() as s:
        set_password(s, "admin", password, actor="vigil-demo")
        root = s.get(Region, PREFECTURE[0])
        if root is not None:
            root.name = PREFECTURE[1]
    if has_cameras:
        console.print("Using the demo city already in this database.")
    else:
        with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), console=console) as bar:
            tasks: dict[str, TaskID] = {}

            def step(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(f"building {stage}", total=total)
                bar.update(tasks[stage], completed=done)

            city = build_demo_city(v, cameras=cameras, progress=step)
        from vigil.demo.coverage import plan_demo_town, plan_demo_town_centre
        from vigil.demo.history import seed_history

        hist = seed_history(v)
        teams = seed_teams(v)
        zoned = seed_analytics(v, demo_streaming_ids(v, sim=sim, streams=streams)[:analytics])
        with console.status("planning the town centre with eagle-eye high points (锦江街道)…"):
            centre = plan_demo_town_centre(v)
        with console.status("planning coverage of the real-map town (锦江街道)…"):
            plan = plan_demo_town(v)
        hp = centre["high_points"]
        console.print(f"Town centre at Detect: {len(hp['chosen'])} eagle-eye high point(s) chosen "
                      f"({', '.join(r['model'] for r in hp['chosen']) or 'none'}), coverage "
                      f"{centre['coverage_before']:.1%} → {centre['coverage_after']:.1%}.")
        console.print(f"Coverage of 锦江街道's {len(plan['communities'])} communities: "
                      f"{plan['coverage_before']:.1%} today; "
                      f"{plan['cameras_new']} new cameras would reach {plan['coverage_after']:.1%}.")
        console.print(f"Built {CITY[1]}: {city.regions} regions, {city.sites} sites, {city.cameras} cameras; "
                      f"town {city.real_map_town} on the real map with {len(city.real_communities)} communities; "
                      f"a week of health history ({hist['repaired_episodes']} repaired incidents).")
        console.print(f"Maintenance: {teams['teams']} teams, {teams['orders_assigned']} work orders spread over them; "
                      f"analytics with an intrusion and a loitering zone on {len(zoned)} camera(s).")
    console.print(f"Database: {safe_db_url(v.settings.db_url)}")
    console.print(f"Sign in as [bold]admin[/] with password [bold]{password}[/]")
    if not serve:
        return
    from vigil.api.server import serve as run

    services = demo_services(v, sim=sim, streams=streams, faults=faults)
    if sim and streams:
        console.print(f"Streaming and recording {min(sim, streams)} camera(s) (town 1's community entrances).")
    ensure_port_free(host, port)  # still free after the build
    console.print(f"Console: [bold]http://{host}:{port}/[/]   API docs: http://{host}:{port}/docs   (Ctrl-C stops)")
    run(v, host=host, port=port, services=services)
