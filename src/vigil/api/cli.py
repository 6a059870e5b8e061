"""``vigil serve``: the API, the console, the health scheduler and continuous analytics in one process."""

from __future__ import annotations

import os
import socket
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from vigil.cli_common import DbOpt, HomeOpt, console, ensure_port_free, open_instance


def background_services(v, *, probe_interval: float, sample_interval: float,  # type: ignore[no-untyped-def]
                        scheduler: bool = True, analytics: bool = True, mqtt: str | None = None,
                        analytics_streams: int = 8, sample_only=None,
                        record: list[str] | None = None, plan_workers: int = 1,
                        plan_runner: str | None = None) -> list:
    """The services ``vigil serve`` runs beside the API: scheduler, analytics, plan jobs, coverage refresh.

    Analytics only opens the cameras that have it enabled (``vigil analytics enable``), so it costs
    nothing by default; ``mqtt`` (host:port, default ``$VIGIL_MQTT``) also publishes its events there.
    """
    from vigil.analytics.worker import AnalyticsService, parse_mqtt
    from vigil.health.scheduler import HealthScheduler

    parse_mqtt(mqtt)  # a bad broker address is an error now, not at start
    services: list = []
    if scheduler:
        services.append(HealthScheduler(v, probe_interval=probe_interval, sample_interval=sample_interval,
                                        sample_only=sample_only))
    if analytics:
        services.append(AnalyticsService(v, max_streams=analytics_streams, mqtt=mqtt))
    from vigil.federation.service import FederationService  # publishes only when a parent link exists

    services.append(FederationService(v))
    if scheduler:  # escalations and missed patrol rounds ride with the health scheduler
        from vigil.centre.service import CentreService

        services.append(CentreService(v))
        from vigil.core.timeseries import KEEP_ENV, Maintenance, keep_days  # partitions ahead, retention

        services.append(Maintenance(v.db, keep=keep_days(os.environ.get(KEEP_ENV))))
    if record:
        from vigil.video.service import RecordingService

        services.append(RecordingService(v, None if record == ["all"] else list(record)))
    from vigil.coverage.current import CoverageRefresher
    from vigil.coverage.runner import PlanJobService

    services += [PlanJobService(v, workers=plan_workers, runner=plan_runner), CoverageRefresher(v)]
    return services


class Role(StrEnum):
    """What one ``vigil serve`` process does."""

    ALL = "all"
    API = "api"
    SCHEDULER = "scheduler"


def serve_scheduler(db: str | None, home: str | None, *, nats: str | None, mqtt: str | None = None) -> None:
    """``--role scheduler``: campaign for the leader lease; while leading, run the scale-out services.

    The leader writes probe batches, relays the events stream to webhooks and MQTT (``mqtt``
    host:port, default ``$VIGIL_MQTT``) and keeps house.
    """
    from vigil.analytics.worker import MQTT_ENV, parse_mqtt
    from vigil.worker.cli import lease_ttl, nats_url, run_until_signal
    from vigil.worker.elect import Elector, scheduler_services

    url = nats_url(nats)
    broker = parse_mqtt(os.environ.get(MQTT_ENV) if mqtt is None else mqtt)
    v = open_instance(db, home)
    elector = Elector(nats_url=url, make_services=scheduler_services(v, mqtt=broker), ttl=lease_ttl())
    console.print(f"vigil scheduler {elector.name}: campaigning on {url.split('@')[-1]}", highlight=False)
    run_until_signal([elector])


def serve(db: DbOpt = None, home: HomeOpt = None,
          host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="TCP port")] = 8080,
          probe_interval: Annotated[float, typer.Option(help="Seconds per probe cycle")] = 60.0,
          sample_interval: Annotated[float, typer.Option(help="Seconds per picture-sample cycle")] = 600.0,
          no_scheduler: Annotated[bool, typer.Option("--no-scheduler", help="Do not probe cameras")] = False,
          analytics: Annotated[bool, typer.Option("--analytics/--no-analytics",
                                                  help="Analyse the cameras with analytics enabled")] = True,
          analytics_streams: Annotated[int, typer.Option(min=1, help="Analytics streams open at once, at most")] = 8,
          mqtt: Annotated[str | None, typer.Option(help="Publish analytics events to this MQTT broker (host:port; "
                                                        "default $VIGIL_MQTT)")] = None,
          record: Annotated[list[str] | None, typer.Option(help="Record this camera (repeatable), or 'all' for "
                                                                "every in-service camera")] = None,
          plan_workers: Annotated[int, typer.Option(min=1, help="Plan jobs run at once (one process each)")] = 1,
          tls_cert: Annotated[Path | None, typer.Option(help="Serve HTTPS with this PEM certificate (chain)")] = None,
          tls_key: Annotated[Path | None, typer.Option(help="The PEM private key of --tls-cert")] = None,
          trusted_proxy: Annotated[str, typer.Option(help="Comma-separated addresses of reverse proxies whose "
                                                          "X-Forwarded-For/-Proto headers are believed")] = "",
          role: Annotated[Role, typer.Option(help="all: one process (the default); api: a stateless API node; "
                                                  "scheduler: the elected scheduler (no HTTP; needs NATS)")] = Role.ALL,
          nats: Annotated[str | None, typer.Option(help="NATS URL for --role scheduler (default $VIGIL_NATS, "
                                                        "else nats://127.0.0.1:4222)")] = None,
          gb: Annotated[bool, typer.Option("--gb", help="Also run the GB/T 28181 registrar (devices register; "
                                                        "their channels play and record here)")] = False,
          gb_host: Annotated[str, typer.Option(help="GB/T 28181 SIP address (UDP and TCP)")] = "127.0.0.1",
          gb_port: Annotated[int, typer.Option(help="GB/T 28181 SIP port")] = 5060,
          gb_id: Annotated[str, typer.Option(help="This platform's 20-digit SIP server ID")] = "34020000002000000001",
          gb_media: Annotated[str, typer.Option(help="How GB devices send media: udp, tcp-passive or tcp-active")]
          = "udp",
          workers: Annotated[int, typer.Option(min=1, max=64, help="Processes that answer the API on the port (one "
                                                                   "core each); this one keeps the services")] = 1,
          ) -> None:
    """Serve the API and console; probe, analyse and record cameras in the background."""
    if role is Role.SCHEDULER:
        return serve_scheduler(db, home, nats=nats, mqtt=mqtt)
    from vigil.api.server import check_tls
    from vigil.api.server import serve as run
    from vigil.video.live import sweep_stale

    check_tls(tls_cert, tls_key)
    ensure_port_free(host, port)  # a busy port is one line now, not a traceback after the URL
    v = open_instance(db, home)
    sweep_stale(v.settings.home / "run")  # live folders of a server that was killed
    runner = f"{socket.gethostname()}:{port}:{v.settings.home.resolve()}"  # the same after a restart
    if role is Role.API:  # stateless nodes share the plan queue (claims are atomic); the rest is the scheduler's
        from vigil.coverage.runner import PlanJobService

        services: list[Any] = [PlanJobService(v, workers=plan_workers, runner=runner)]
    else:
        services = background_services(
            v, probe_interval=probe_interval, sample_interval=sample_interval, scheduler=not no_scheduler,
            analytics=analytics, mqtt=mqtt, analytics_streams=analytics_streams, record=record,
            plan_workers=plan_workers, plan_runner=runner)
    if gb:
        from vigil.gb28181.cli import gb_service

        services.append(gb_service(v, platform_id=gb_id, host=gb_host, port=gb_port, media=gb_media))
        console.print(f"GB/T 28181 registrar: udp+tcp {gb_host}:{gb_port}", highlight=False)
    url = f"{'https' if tls_cert else 'http'}://{host}:{port}"
    console.print(f"Vigil console: [bold]{url}/[/]   API docs: {url}/docs")
    run(v, host=host, port=port, services=services, tls_cert=tls_cert, tls_key=tls_key,
        trusted_proxies=trusted_proxy, workers=workers)
