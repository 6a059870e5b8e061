"""The ``vigil`` command: a thin Typer shell over library functions.

Capability packages contribute sub-commands through :data:`_SUBAPPS` and
:data:`_COMMANDS`; errors are shown as one clear line, never as a traceback.
"""

from __future__ import annotations

import getpass
import importlib
import os
import sys
from typing import Annotated

import typer
import typer._click as click  # typer 0.29 vendors its own click: its types, not the click package's
import typer.main
from typer.core import TyperCommand, TyperGroup

from vigil.cli_common import DbOpt, HomeOpt, console, err, open_instance, safe_db_url
from vigil.cli_errors import report
from vigil.core.private import PRIVATE_UMASK
from vigil.i18n import cli_language, take_lang_option


class _VigilGroup(TyperGroup):
    """The root command: whatever goes wrong below it ends here as one readable line and an exit code.

    Usage errors (unknown command or option, missing or bad value) exit 2; so do Vigil's own errors.
    This runs for the installed ``vigil`` script and for in-process ``CliRunner`` calls alike.
    Capability commands (:data:`_LAZY`) are imported only when named.
    """

    _listing = False  # while the help text is drawn: lazy commands show their one-line help unloaded

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in _LAZY if n not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None or cmd_name not in _LAZY:
            return cmd
        if self._listing:
            return TyperCommand(cmd_name, help=_LAZY[cmd_name][2])
        loaded = load_command(cmd_name)
        self.add_command(loaded, cmd_name)
        return loaded

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,  # type: ignore[no-untyped-def]
             **extra):
        try:
            # --lang may stand anywhere; it sets the language of this run's messages and reports
            args, lang = take_lang_option(list(sys.argv[1:] if args is None else args))
            cli_language.start(lang)
            rv = super().main(args=args, prog_name="vigil", complete_var=complete_var, standalone_mode=False,
                              **extra)
            rc = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
        except Exception as exc:
            rc = report(exc)
        if standalone_mode:
            sys.exit(rc)
        return rc


app = typer.Typer(cls=_VigilGroup, help="Vigil: city video-surveillance platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
audit_app = typer.Typer(help="Inspect the audit log.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        console.print(f"vigil {version('vigil')}", highlight=False, soft_wrap=True)
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                               help="Print the version and exit")] = False,
          lang: Annotated[str | None, typer.Option("--lang", help="Language of messages and reports: zh-CN or en "
                                                   "(anywhere on the line; default $VIGIL_LANG, then the instance's "
                                                   "`vigil lang set`, then en)")] = None) -> None:
    """Vigil: city video-surveillance platform."""


@app.command()
def init(db: DbOpt = None, home: HomeOpt = None,
         region: Annotated[str, typer.Option(help="Root region code (4, 6, 8 or 11 digits)")] = "5301",
         name: Annotated[str, typer.Option(help="Root region name")] = "Prefecture",
         admin: Annotated[str, typer.Option(help="Name of the first admin")] = "admin") -> None:
    """Create the database and the first admin; print the generated password once."""
    from vigil.access.bootstrap import init_instance

    v = open_instance(db, home, create=True)
    res = init_instance(v, root_code=region, root_name=name, admin=admin)
    console.print(f"Database ready: {safe_db_url(v.settings.db_url)}")
    console.print(f"Admin user: [bold]{res.admin}[/]  password: [bold]{res.password}[/]  (shown once; store it now)")


@user_app.command("add")
def user_add(name: str,
             role: Annotated[str, typer.Option(help="admin, duty_officer, investigator, maintenance, auditor, planner")],
             region: Annotated[list[str], typer.Option(help="Region code of a subtree the user may see (repeatable)")],
             team: Annotated[str, typer.Option(help="Maintenance team name")] = "",
             db: DbOpt = None, home: HomeOpt = None) -> None:
    """Add a user; a password is generated and printed once."""
    from vigil.access.users import add_user, generate_password

    v = open_instance(db, home)
    password = generate_password()
    with v.db.session() as s:
        add_user(s, name, password, role, region, team=team, actor=f"cli:{getpass.getuser()}")
    console.print(f"User [bold]{name}[/] ({role}) password: [bold]{password}[/]  (shown once)")


def _user(s, name: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from vigil.core.errors import NotFoundError
    from vigil.core.models import User

    u = s.scalar(select(User).where(User.name == name))
    if u is None:
        raise NotFoundError(f"user {name!r} does not exist")
    return u


@user_app.command("list")
def user_list(db: DbOpt = None, home: HomeOpt = None) -> None:
    """List users: name, role, regions, team, active."""
    from sqlalchemy import select

    from vigil.core.models import User

    v = open_instance(db, home)
    with v.db.session() as s:
        for u in s.scalars(select(User).order_by(User.name)):
            state = "active" if u.active else "disabled"
            console.print(f"{u.name}\t{u.role}\t{','.join(u.region_codes)}\t{u.team or '-'}\t{state}",
                          highlight=False, soft_wrap=True)


@user_app.command("disable")
def user_disable(name: str, db: DbOpt = None, home: HomeOpt = None) -> None:
    """Disable a user (kept for the audit trail) and end its sessions; the last active admin is refused."""
    from vigil.access.users import update_user

    v = open_instance(db, home)
    with v.db.session() as s:
        update_user(s, f"cli:{getpass.getuser()}", _user(s, name), active=False)
    console.print(f"User [bold]{name}[/] disabled")


@user_app.command("passwd")
def user_passwd(name: str,
                stdin: Annotated[bool, typer.Option("--stdin", help="Read the new password from stdin")] = False,
                db: DbOpt = None, home: HomeOpt = None) -> None:
    """Set a new password (generated and printed once, or read from stdin); the user's sessions end."""
    from vigil.access.users import reset_password, set_password

    v = open_instance(db, home)
    actor = f"cli:{getpass.getuser()}"
    with v.db.session() as s:
        _user(s, name)
        if stdin:
            set_password(s, name, sys.stdin.readline().rstrip("\n"), actor=actor)
            console.print(f"Password of [bold]{name}[/] changed")
        else:
            console.print(f"User [bold]{name}[/] password: [bold]{reset_password(s, actor, name)}[/]  (shown once)")


@user_app.command("set-role")
def user_set_role(name: str,
                  role: Annotated[str, typer.Argument(help="admin, duty_officer, investigator, maintenance, auditor, "
                                                         "planner")],
                  region: Annotated[list[str] | None, typer.Option(help="Replace the region subtrees (repeatable)")]
                  = None,
                  team: Annotated[str | None, typer.Option(help="Maintenance team name")] = None,
                  db: DbOpt = None, home: HomeOpt = None) -> None:
    """Change a user's role (and optionally its regions and team); audited."""
    from vigil.access.users import update_user

    v = open_instance(db, home)
    with v.db.session() as s:
        u = update_user(s, f"cli:{getpass.getuser()}", _user(s, name), role=role, regions=region or None, team=team)
        console.print(f"User [bold]{name}[/]: {u.role} in {', '.join(u.region_codes)}")


@audit_app.command("verify")
def audit_verify(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Check the audit chain; exit 1 if any entry was edited, deleted or reordered."""
    from vigil.access.audit import verify_chain

    v = open_instance(db, home)
    with v.db.session() as s:
        rep = verify_chain(s)
    if rep.ok:
        console.print(f"[green]audit chain intact[/]: {rep.entries} entries")
    else:
        err.print(f"[red]audit chain broken[/] at entry {rep.first_bad_seq}: {rep.reason}")
        raise typer.Exit(1)


# Sub-command groups and single commands contributed by capability packages: name -> (module, attribute,
# one-line help for the `vigil --help` listing). They load only when the command line names them, so
# `vigil --help`, a mistyped command and `vigil user list` never import video, NATS or the solvers.
_LAZY: dict[str, tuple[str, str, str]] = {
    "plan": ("vigil.coverage.cli", "app",
             "Coverage planning: find the blind spots and choose new cameras (vigil plan AREA --out DIR)."),
    "import": ("vigil.registry.cli", "import_app",
               "Bulk-import regions, sites, camera models or cameras (CSV; GeoJSON for regions, sites and cameras)."),
    "export": ("vigil.registry.cli", "export_app", "Export the registry."),
    "sim": ("vigil.sim.cli", "app", "Simulated camera fleet on loopback (RTSP + digest auth, H.264 streams, faults)."),
    "record": ("vigil.video.cli", "record_app", "Record camera streams, repair the index, enforce retention."),
    "retrieve": ("vigil.video.cli", "retrieve_app", "Retrieve recorded video: request, approve, view, export."),
    "report": ("vigil.health.cli", "report_app", "Health reports."),
    "workorder": ("vigil.health.cli", "workorder_app", "Maintenance work orders and teams."),
    "alarm": ("vigil.health.cli", "alarm_app", "Camera alarms."),
    "webhook": ("vigil.health.cli", "webhook_app", "Webhook endpoints for alarm and work-order events."),
    "notify": ("vigil.notify.cli", "app",
               "Notification channels: signed webhooks, WeCom/DingTalk/Feishu robots, e-mail."),
    "lang": ("vigil.i18n.cli", "app", "The instance's default language (zh-CN or en) for messages and reports."),
    "analytics": ("vigil.analytics.cli", "analytics_app", "Continuous analytics per camera (run by `vigil serve`)."),
    "gb": ("vigil.gb28181.cli", "app", "GB/T 28181: devices register to Vigil over SIP."),
    "link": ("vigil.federation.cli", "app",
             "Vigil-to-Vigil links: share catalog, status and video with a parent instance."),
    "centre": ("vigil.centre.cli", "app", "The monitoring centre: shifts, duty, handovers, patrol rounds, reports."),
    "timeseries": ("vigil.core.cli", "timeseries_app", "Time series tables: partitions (PostgreSQL) and retention."),
    "serve": ("vigil.api.cli", "serve",
              "Serve the API and console; probe, analyse and record cameras in the background."),
    "demo": ("vigil.demo.cli", "demo",
             "Build (once) and serve a realistic county-level city of ~20,547 cameras on SQLite."),
    "analyze": ("vigil.analytics.cli", "analyze_cmd",
                "Detect motion, people and vehicles, and zone events in a video; print the events."),
    "probe": ("vigil.health.probe_cli", "probe",
              "Probe cameras once (RTSP OPTIONS + DESCRIBE with digest auth, ONVIF where declared)."),
    "kpi": ("vigil.health.cli", "kpi",
            "Online, integrity and coverage rates and repair time per region, rolled up the tree."),
    "diagnose": ("vigil.health.vqd_cli", "diagnose", "Run the video-quality checks once and explain the verdict."),
    "worker": ("vigil.worker.cli", "worker",
               "Own a share of the camera shards (JetStream KV leases); probe, and optionally record, their cameras."),
}


def load_command(name: str) -> click.Command:
    """The click command for lazy entry ``name``, importing its module."""
    mod, attr, _ = _LAZY[name]
    obj = getattr(importlib.import_module(mod), attr)
    if isinstance(obj, typer.Typer):
        cmd: click.Command = typer.main.get_group(obj)
    else:
        one = typer.Typer()
        one.command(name)(obj)
        cmd = typer.main.get_command(one)
    cmd.name = name
    return cmd


def main() -> None:
    """Entry point of the ``vigil`` script."""
    os.umask(PRIVATE_UMASK)  # what this process and its FFmpeg children write is the owner's only
    try:
        app(prog_name="vigil")
    except Exception as exc:  # raised before the command tree runs (building it)
        sys.exit(report(exc))
