"""``vigil gb ...``: the GB/T 28181 registrar and its device list (thin shells over the library)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from vigil.access.guard import Scope
from vigil.cli_common import DbOpt, HomeOpt, console, ensure_port_free, open_instance
from vigil.core.context import Vigil
from vigil.core.errors import InputError
from vigil.core.ids import DeviceId
from vigil.federation.links import ShareRules, parse_rules
from vigil.gb28181 import store, views
from vigil.gb28181.cascade import add_upper
from vigil.gb28181.hub import MediaTransport
from vigil.gb28181.server import GbConfig
from vigil.gb28181.service import GbService

__all__ = ["Media", "app", "gb_service"]

app = typer.Typer(help="GB/T 28181: devices register to Vigil over SIP.", no_args_is_help=True)
device_app = typer.Typer(help="Devices allowed to register.", no_args_is_help=True)
upper_app = typer.Typer(help="Upper platforms Vigil registers to (cascade).", no_args_is_help=True)
app.add_typer(device_app, name="device")
app.add_typer(upper_app, name="upper")


class Media(StrEnum):
    """How devices send live media to Vigil."""

    UDP = "udp"
    TCP_PASSIVE = "tcp-passive"
    TCP_ACTIVE = "tcp-active"


def gb_service(v: Vigil, *, platform_id: str, host: str, port: int, keepalive: float = 60.0,
               media: str = "udp") -> GbService:
    """The registrar service of ``vigil gb serve`` and ``vigil serve --gb``: checked now, started later."""
    pid = DeviceId.parse(platform_id)
    ensure_port_free(host, port)
    return GbService(v, GbConfig(platform_id=pid.value, host=host, port=port, keepalive_interval=keepalive),
                     media=_media(media))


def _media(value: str) -> MediaTransport:
    for m in Media:
        if m.value == value:
            return m.value  # type: ignore[return-value]
    raise InputError(f"media {value!r}: use one of {', '.join(m.value for m in Media)}")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@device_app.command("add")
def device_add(device_id: Annotated[str, typer.Argument(help="The device's 20-digit GB/T 28181 ID")],
               password: Annotated[str, typer.Option(prompt=True, hide_input=True, envvar="VIGIL_GB_PASSWORD",
                                                     help="SIP digest password (prompted; or $VIGIL_GB_PASSWORD)")],
               region: Annotated[str | None, typer.Option(help="Region of its channels when their civil code "
                                                               "names none (default: from the ID)")] = None,
               allow: Annotated[list[str] | None, typer.Option(help="Address it may register from "
                                                                     "(repeatable; default any)")] = None,
               name: Annotated[str, typer.Option(help="Display name")] = "",
               db: DbOpt = None, home: HomeOpt = None) -> None:
    """Allow a device to register; its password is sealed with the instance key."""
    v = open_instance(db, home)
    with v.db.session() as s:
        row = store.add_device(s, v.box, device_id, password, actor=_actor(), region=region,
                               allowed_hosts=allow or (), name=name)
        console.print(f"GB/T 28181 device [bold]{row.id}[/] added (region {row.region_code or '-'})")


@device_app.command("import")
def device_import(file: Annotated[Path, typer.Argument(help="CSV: id,password[,region,allow,name]; allow is "
                                                           "';'-separated addresses")],
                  db: DbOpt = None, home: HomeOpt = None) -> None:
    """Add many devices from a CSV file; every row is checked first, and nothing is stored if one is bad."""
    v = open_instance(db, home)
    with v.db.session() as s:
        n = store.import_devices(s, v.box, file, actor=_actor())
    console.print(f"{n} GB/T 28181 device(s) added from {file}")


@device_app.command("list")
def device_list(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Configured devices with their last registration and keepalive."""
    v = open_instance(db, home)
    with v.db.session() as s:
        for d in store.list_devices(s, Scope.everything()):
            seen = d.last_seen.isoformat(timespec="seconds") if d.last_seen else "never"
            state = "online" if d.online else "offline"
            console.print(f"{d.id}  {state:7}  {d.transport or '-':3} {d.host or '-'}:{d.port}  last seen {seen}  "
                          f"channels {d.channel_count}  {d.manufacturer} {d.model}".rstrip(), highlight=False)


@app.command("serve")
def serve(platform_id: Annotated[str, typer.Option("--id", help="This platform's 20-digit SIP server ID "
                                                                "(type 200)")] = "34020000002000000001",
          host: Annotated[str, typer.Option(help="Address to listen on (UDP and TCP)")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="SIP port (UDP and TCP)")] = 5060,
          keepalive: Annotated[float, typer.Option(help="Devices' keepalive interval, seconds")] = 60.0,
          media: Annotated[Media, typer.Option(help="How devices send live media")] = Media.UDP,
          db: DbOpt = None, home: HomeOpt = None) -> None:
    """Run the registrar, its media hub and the upward links until interrupted."""
    v = open_instance(db, home)
    service = gb_service(v, platform_id=platform_id, host=host, port=port, keepalive=keepalive, media=media)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    async def run() -> None:
        try:  # an interrupt while starting still stops what started
            await service.start()
            pid = DeviceId.parse(service.config.platform_id)
            console.print(f"GB/T 28181 registrar {pid.value} (domain {pid.sip_domain}) on udp+tcp "
                          f"{service.server.address}; {len(service.links)} upper platform(s)")
            await asyncio.Event().wait()
        finally:
            await service.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


@upper_app.command("add")
def upper_add(upper_id: Annotated[str, typer.Argument(help="The upper platform's 20-digit SIP server ID")],
              host: Annotated[str, typer.Option(help="Its address")],
              port: Annotated[int, typer.Option(help="Its SIP port")] = 5060,
              password: Annotated[str, typer.Option(prompt=True, hide_input=True, envvar="VIGIL_GB_UPPER_PASSWORD",
                                                    help="Digest password (prompted; or $VIGIL_GB_UPPER_PASSWORD)")]
              = "",
              share: Annotated[str, typer.Option(help="What it may see: 'all' or regions=..;kinds=..;classes=..")]
              = "all",
              local_id: Annotated[str, typer.Option(help="The ID Vigil registers with")] = "34020000002000000001",
              expires: Annotated[int, typer.Option(help="Registration expiry, seconds")] = 3600,
              keepalive: Annotated[int, typer.Option(help="Keepalive interval, seconds")] = 60,
              db: DbOpt = None, home: HomeOpt = None) -> None:
    """Register to an upper platform (cascade) and show it the shared cameras."""
    v = open_instance(db, home)
    with v.db.session() as s:
        row = add_upper(s, v.box, upper_id, host=host, port=port, password=password, local_id=local_id,
                        rules=parse_rules(share), actor=_actor(), expires=expires, keepalive=keepalive)
        console.print(f"upper platform [bold]{row.id}[/] at {row.host}:{row.port} added (as {row.local_id})")


@upper_app.command("list")
def upper_list(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Configured upper platforms, what they are shown, and the link's last registration state."""
    v = open_instance(db, home)
    with v.db.session() as s:
        for u in views.uppers(s, Scope.everything()):
            state = "registered" if u.registered else "not registered"
            rules = ShareRules(**u.rules).model_dump(exclude_defaults=True) or "all"
            console.print(f"{u.id}  {u.host}:{u.port}  as {u.local_id}  expires {u.expires}s  keepalive {u.keepalive}s"
                          f"  {state}  {u.shared_channels} shared channel(s)  share {rules}"
                          f"{'  last error: ' + u.last_error if u.last_error else ''}", highlight=False)
