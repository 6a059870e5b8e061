"""``vigil kpi``, ``vigil report``, ``vigil workorder``, ``vigil alarm`` and ``vigil webhook``: thin shells."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.guard import Scope
from vigil.cli_common import DbOpt, HomeOpt, open_instance
from vigil.core.errors import InputError, NotFoundError
from vigil.core.models import Region
from vigil.i18n import cli_language

__all__ = ["alarm_app", "kpi", "report_app", "webhook_app", "workorder_app"]

console = Console()
report_app = typer.Typer(help="Health reports.", no_args_is_help=True)
workorder_app = typer.Typer(help="Maintenance work orders and teams.", no_args_is_help=True)
alarm_app = typer.Typer(help="Camera alarms.", no_args_is_help=True)
webhook_app = typer.Typer(help="Webhook endpoints for alarm and work-order events.", no_args_is_help=True)

RegionOpt = Annotated[str | None, typer.Option("--region", help="Region code (default: the root region)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]
_ACTOR = "cli"


def _root(session: Session, region: str | None) -> str:
    if region:
        return region
    code = session.scalar(select(Region.code).order_by(Region.level, Region.code).limit(1))
    if code is None:
        raise NotFoundError("no region exists yet: run `vigil init` first")
    return code


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f} %"


def _hours(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f} h"


def _print_table(title: str, columns: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    t = Table(title=title)
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*row)
    console.print(t)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"time {text!r}: expected ISO 8601, e.g. 2026-11-27T00:00:00Z") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def kpi(region: RegionOpt = None,
        period: Annotated[str, typer.Option(help="Period ending at --end: 30m, 24h, 7d, 2w")] = "7d",
        end: Annotated[str | None, typer.Option(help="End of the period (ISO 8601, default now)")] = None,
        depth: Annotated[int, typer.Option(help="Levels of sub-regions to show")] = 1,
        coverage_level: Annotated[str | None, typer.Option(help="Coverage at this level only (e.g. identify)")] = None,
        as_json: JsonOpt = False, db: DbOpt = None, home: HomeOpt = None) -> None:
    """Online, integrity and coverage rates and repair time per region, rolled up the tree."""
    from vigil.health.kpi import compute_kpis

    v = open_instance(db, home)
    with v.db.session() as s:
        rep = compute_kpis(s, _root(s, region), period=period, end=_parse_time(end), depth=depth,
                           coverage_level=coverage_level)
    if as_json:
        typer.echo(json.dumps(rep.to_dict(), ensure_ascii=False, indent=2))
        return
    t = Table(title=f"KPIs {rep.start:%Y-%m-%d %H:%M} → {rep.end:%Y-%m-%d %H:%M} UTC")
    for col in ("region", "name", "cams", "online", "now", "intact", "cover", "fixes", "p50", "p90", "alarms",
                "WO", "late"):
        t.add_column(col, justify="left" if col in ("region", "name") else "right",
                     no_wrap=col == "region")
    for r in rep.regions:
        t.add_row("  " * (r.level - rep.regions[0].level) + r.region_code, r.name, str(r.cameras),
                  _pct(r.online_rate), _pct(r.online_now), _pct(r.integrity_rate), _pct(r.coverage_rate),
                  str(r.repairs), _hours(r.repair_median_h), _hours(r.repair_p90_h), str(r.active_alarms),
                  str(r.open_workorders), str(r.breached_workorders))
    console.print(t)
    console.print("online: time-weighted; now: online at present; intact: online without a confirmed picture "
                  "fault; fixes: repairs verified (p50/p90 hours from alarm); late: work orders past their SLA")
    for c in rep.contractors:
        console.print(f"contractor [bold]{c['contractor'] or '(none)'}[/]: {c['repairs']} repairs, "
                      f"median {_hours(c['repair_median_h'])}, p90 {_hours(c['repair_p90_h'])}")


@report_app.command("daily")
def report_daily(region: Annotated[str, typer.Option("--region", help="Town region code (8 digits)")],
                 day: Annotated[str, typer.Option("--date", help="Day (YYYY-MM-DD, UTC)")],
                 out: Annotated[Path, typer.Option("--out", help="Folder for the HTML and PDF")] = Path("."),
                 db: DbOpt = None, home: HomeOpt = None) -> None:
    """Write the daily health report of a town as HTML and PDF, with charts."""
    from vigil.health.report import daily_report

    try:
        d = date.fromisoformat(day)
    except ValueError as exc:
        raise InputError(f"date {day!r}: expected YYYY-MM-DD") from exc
    v = open_instance(db, home)
    files = daily_report(v, region, d, out, lang=cli_language.lang)
    console.print(cli_language.line(f"HTML: {files.html}") + "\n" + cli_language.line(f"PDF:  {files.pdf}"),
                  highlight=False, soft_wrap=True)


@workorder_app.command("list")
def wo_list(region: RegionOpt = None,
            state: Annotated[str, typer.Option(help="open (every unclosed one), assigned, ..., closed, all")] = "open",
            as_json: JsonOpt = False, db: DbOpt = None, home: HomeOpt = None) -> None:
    """List work orders."""
    from vigil.health.workorders import list_orders, order_json

    v = open_instance(db, home)
    with v.db.session() as s:
        rows = list_orders(s, scope=Scope.everything().narrowed(_root(s, region)),
                           state=None if state == "all" else state)
        data = [order_json(w) for w in rows]
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    _print_table(f"{len(data)} work order(s)", ("id", "camera", "region", "state", "assigned to", "opened", "due",
                                                "breached"),
                 [(str(w["id"]), w["camera_id"], w["region_code"], w["state"], w["assigned_to"], w["opened_at"][:16],
                   w["due_at"][:16], "yes" if w["breached"] else "") for w in data])


def _transition(action: str, order_id: int, db: str | None, home: str | None, **kw: str) -> None:
    from vigil.health import workorders as wos

    v = open_instance(db, home)
    with v.db.session() as s:
        wo = getattr(wos, action)(s, order_id, actor=_ACTOR, **kw)
        console.print(f"work order {wo.id}: [bold]{wo.state}[/]")


@workorder_app.command("assign")
def wo_assign(order_id: int, technician: str, db: DbOpt = None, home: HomeOpt = None) -> None:
    """Name the technician of a work order."""
    _transition("assign", order_id, db, home, technician=technician)


@workorder_app.command("start")
def wo_start(order_id: int, db: DbOpt = None, home: HomeOpt = None) -> None:
    """Mark a work order as in progress."""
    _transition("start", order_id, db, home)


@workorder_app.command("resolve")
def wo_resolve(order_id: int, note: Annotated[str, typer.Option(help="What was done")] = "",
               db: DbOpt = None, home: HomeOpt = None) -> None:
    """The technician says it is fixed; the order waits for verification."""
    _transition("resolve", order_id, db, home, note=note)


@workorder_app.command("verify")
def wo_verify(order_id: int, db: DbOpt = None, home: HomeOpt = None) -> None:
    """Re-probe the camera now: close the order if it recovered, else reopen it."""
    from vigil.health.workorders import verify

    v = open_instance(db, home)
    res = asyncio.run(verify(v, order_id, actor=_ACTOR))
    colour = "green" if res.ok else "red"
    console.print(f"work order {res.order_id}: [{colour}]{res.state}[/] ({res.detail})")
    if not res.ok:
        raise typer.Exit(1)


@workorder_app.command("team-add")
def team_add(name: str, region: Annotated[str, typer.Option("--region", help="Region subtree it serves")],
             contractor: Annotated[str, typer.Option(help="Contractor company")] = "",
             sla_hours: Annotated[float, typer.Option(help="Time allowed to repair")] = 24.0,
             db: DbOpt = None, home: HomeOpt = None) -> None:
    """Add a maintenance team responsible for a region subtree."""
    from vigil.health.workorders import add_team

    v = open_instance(db, home)
    with v.db.session() as s:
        t = add_team(s, name, region, contractor=contractor, sla_hours=sla_hours, actor=_ACTOR)
        console.print(f"team [bold]{t.name}[/] ({t.contractor or 'no contractor'}) serves {t.region_code}, "
                      f"SLA {t.sla_hours:g} h")


@alarm_app.command("list")
def alarm_list(region: RegionOpt = None,
               state: Annotated[str, typer.Option(help="active, cleared or all")] = "active",
               as_json: JsonOpt = False, db: DbOpt = None, home: HomeOpt = None) -> None:
    """List alarms."""
    from vigil.health.alarms import alarm_json, list_alarms

    v = open_instance(db, home)
    with v.db.session() as s:
        data = [alarm_json(a) for a in list_alarms(s, scope=Scope.everything().narrowed(_root(s, region)),
                                                   state=None if state == "all" else state)]
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    _print_table(f"{len(data)} alarm(s)", ("id", "camera", "region", "kind", "severity", "state", "raised",
                                           "cleared", "ack"),
                 [(str(a["id"]), a["camera_id"], a["region_code"], a["kind"], a["severity"], a["state"],
                   a["raised_at"][:16], (a["cleared_at"] or "")[:16], a["acknowledged_by"]) for a in data])


@alarm_app.command("ack")
def alarm_ack(alarm_id: int, db: DbOpt = None, home: HomeOpt = None) -> None:
    """Acknowledge an alarm."""
    from vigil.health.alarms import acknowledge

    v = open_instance(db, home)
    with v.db.session() as s:
        acknowledge(s, alarm_id, actor=_ACTOR)
    console.print(f"alarm {alarm_id} acknowledged")


@alarm_app.command("sync")
def alarm_sync(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Raise and clear alarms from the current status and flag SLA breaches once (the scheduler does this)."""
    from vigil.health.alarms import sync_alarms
    from vigil.health.workorders import check_sla
    from vigil.notify.webhook import deliver_pending

    v = open_instance(db, home)
    with v.db.session() as s:
        rep = sync_alarms(s)
        breached = check_sla(s)
    sent = asyncio.run(deliver_pending(v, retries=1))
    console.print(f"raised {rep.raised}, cleared {rep.cleared}, work orders opened {rep.orders_opened}, "
                  f"newly breached {len(breached)}, webhooks delivered {sent.delivered}")


@webhook_app.command("add")
def webhook_add(name: str, url: str,
                secret: Annotated[str, typer.Option(help="HMAC secret (16+ characters)", prompt=True,
                                                    hide_input=True)],
                event: Annotated[list[str] | None, typer.Option(help="Event pattern, e.g. 'alarm.*' (repeatable)")] = None,
                region: Annotated[str, typer.Option(help="Only events of this region subtree")] = "",
                db: DbOpt = None, home: HomeOpt = None) -> None:
    """Register a webhook endpoint."""
    from vigil.notify.webhook import add_webhook

    v = open_instance(db, home)
    with v.db.session() as s:
        add_webhook(s, v, name=name, url=url, secret=secret, events=event or [], region_code=region, actor=_ACTOR)
    console.print(f"webhook [bold]{name}[/] → {url}")


@webhook_app.command("list")
def webhook_list(db: DbOpt = None, home: HomeOpt = None) -> None:
    """List webhook endpoints."""
    from vigil.notify.models import Webhook

    v = open_instance(db, home)
    with v.db.session() as s:
        rows = [(h.name, h.url, ", ".join(h.events or ["*"]), h.region_code or "*", "yes" if h.active else "no")
                for h in s.scalars(select(Webhook).order_by(Webhook.name))]
    _print_table(f"{len(rows)} webhook(s)", ("name", "url", "events", "region", "active"), rows)


@webhook_app.command("remove")
def webhook_remove(name: str, db: DbOpt = None, home: HomeOpt = None) -> None:
    """Delete a webhook endpoint."""
    from vigil.notify.webhook import remove_webhook

    v = open_instance(db, home)
    with v.db.session() as s:
        remove_webhook(s, name, actor=_ACTOR)
    console.print(f"webhook {name} removed")
