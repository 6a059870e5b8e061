"""``vigil serve``: the API, the console and the health scheduler in one process."""

from __future__ import annotations

from typing import Annotated

import typer

from vigil.cli import DbOpt, HomeOpt, console, open_instance


def background_services(v, *, probe_interval: float, sample_interval: float) -> list:  # type: ignore[no-untyped-def]
    """The services ``vigil serve`` runs beside the API (the health scheduler)."""
    from vigil.health.scheduler import HealthScheduler

    return [HealthScheduler(v, probe_interval=probe_interval, sample_interval=sample_interval)]


def serve(db: DbOpt = None, home: HomeOpt = None,
          host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="TCP port")] = 8080,
          probe_interval: Annotated[float, typer.Option(help="Seconds per probe cycle")] = 60.0,
          sample_interval: Annotated[float, typer.Option(help="Seconds per picture-sample cycle")] = 600.0,
          no_scheduler: Annotated[bool, typer.Option("--no-scheduler", help="Do not probe cameras")] = False) -> None:
    """Serve the API and console; probe and diagnose cameras in the background."""
    from vigil.api.server import serve as run

    v = open_instance(db, home)
    services = [] if no_scheduler else background_services(v, probe_interval=probe_interval,
                                                              sample_interval=sample_interval)
    console.print(f"Vigil console: [bold]http://{host}:{port}/[/]   API docs: http://{host}:{port}/docs")
    run(v, host=host, port=port, services=services)
