"""``vigil centre``: shifts, duty, handovers, escalations, patrol rounds and the monthly report.

The CLI runs on the local instance as the system (every region); ``--user`` names the person acting.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from vigil.access.guard import Scope
from vigil.centre import duty, perf, rounds
from vigil.centre.service import housekeeping_once
from vigil.cli_common import DbOpt, HomeOpt, console, open_instance
from vigil.core.errors import InputError
from vigil.core.models import utcnow
from vigil.i18n import cli_language

__all__ = ["app"]

app = typer.Typer(help="The monitoring centre: shifts, duty, handovers, patrol rounds, reports.",
                  no_args_is_help=True)
UserOpt = Annotated[str, typer.Option("--user", help="Who is acting (recorded in the audit log)")]
EVERY = Scope.everything()


@app.command("shift")
def shift(region: Annotated[str, typer.Argument(help="Centre region code")],
          name: Annotated[str, typer.Argument(help="Shift name, e.g. day")],
          start: Annotated[str, typer.Option(help="Local start time HH:MM")] = "08:00",
          hours: Annotated[float, typer.Option(help="Length in hours")] = 8.0,
          team: Annotated[str, typer.Option(help="Team name")] = "",
          response: Annotated[int, typer.Option(help="Alarm response time in minutes")] = 15,
          user: UserOpt = "cli", db: DbOpt = None, home: HomeOpt = None) -> None:
    """Define a shift of a centre."""
    with closing(open_instance(db, home)) as v, v.db.session() as s:
        sh = duty.define_shift(s, region_code=region, name=name, start=start, hours=hours, team=team,
                               response_minutes=response, scope=EVERY, actor=user)
        console.print(f"shift {sh.id}: {sh.name} at {start} for {hours:g} h in {region}")


@app.command("on")
def sign_on(shift_id: int, user: UserOpt, leader: Annotated[bool, typer.Option("--leader")] = False,
            db: DbOpt = None, home: HomeOpt = None) -> None:
    """Sign a person on to a shift."""
    with closing(open_instance(db, home)) as v, v.db.session() as s:
        d = duty.sign_on(s, shift_id, user=user, leader=leader, scope=EVERY)
        console.print(f"{user} on duty (session {d.id})")


@app.command("off")
def sign_off(user: UserOpt, db: DbOpt = None, home: HomeOpt = None) -> None:
    """Sign a person off."""
    with closing(open_instance(db, home)) as v, v.db.session() as s:
        console.print(f"{duty.sign_off(s, user=user)} session(s) closed")


@app.command("handover")
def handover(shift_id: int, user: UserOpt, notes: Annotated[str, typer.Option(help="Notes")] = "",
             db: DbOpt = None, home: HomeOpt = None) -> None:
    """Write the handover of a shift (the open items are gathered)."""
    with closing(open_instance(db, home)) as v, v.db.session() as s:
        h = duty.write_handover(s, shift_id, outgoing=user, notes=notes, scope=EVERY)
        console.print(f"handover {h.id}: " + ", ".join(f"{len(x)} {k}" for k, x in h.items.items()))


@app.command("ack")
def ack(handover_id: int, user: UserOpt, db: DbOpt = None, home: HomeOpt = None) -> None:
    """Acknowledge a handover as the incoming officer."""
    with closing(open_instance(db, home)) as v, v.db.session() as s:
        h = duty.ack_handover(s, handover_id, incoming=user, scope=EVERY)
        console.print(f"handover {h.id} acknowledged by {h.incoming}")


@app.command("round")
def define_round(region: str, name: str,
                 camera: Annotated[list[str], typer.Option("--camera", help="Camera ID (repeat)")],
                 hour: Annotated[list[int] | None, typer.Option("--hour", help="Local hour it is due (repeat)")] = None,
                 dwell: Annotated[int, typer.Option(help="Seconds per view")] = 20,
                 user: UserOpt = "cli", db: DbOpt = None, home: HomeOpt = None) -> None:
    """Define a patrol round."""
    with closing(open_instance(db, home)) as v, v.db.session() as s:
        r = rounds.create_round(s, region_code=region, name=name, cameras=[{"camera_id": c} for c in camera],
                                hours=hour or [], dwell_s=dwell, scope=EVERY, actor=user)
        console.print(f"round {r.id}: {r.name}, {len(r.cameras)} camera(s)")


@app.command("tick")
def tick(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Run the centre's housekeeping once: escalations and missed rounds."""
    with closing(open_instance(db, home)) as v:
        console.print_json(json.dumps(housekeeping_once(v)))


@app.command("report")
def report(region: str, month: Annotated[str | None, typer.Option(help="YYYY-MM (default: this month)")] = None,
           out: Annotated[Path, typer.Option(help="Output file (.html or .pdf)")] = Path("centre-report.html"),
           db: DbOpt = None, home: HomeOpt = None) -> None:
    """Write the monthly performance report of a region (in the run's language: ``vigil --lang zh-CN|en``)."""
    if out.suffix not in (".html", ".pdf"):
        raise InputError("--out must end in .html or .pdf")
    with closing(open_instance(db, home)) as v, v.db.session() as s:
        tz = duty.centre_zone(v.settings)
        month = month or utcnow().astimezone(tz).strftime("%Y-%m")
        start, end = perf.month_range(month, tz)
        result = perf.summarise(perf.gather(s, scope=Scope.of([region]), start=start, end=end), tz)
    lang = "en" if cli_language.lang == "en" else "zh"
    if out.suffix == ".pdf":
        out.write_bytes(perf.report_pdf(result, month=month, region=region, lang=lang))
    else:
        out.write_text(perf.report_html(result, month=month, region=region, lang=lang), encoding="utf-8")
    console.print(f"wrote {out}")
