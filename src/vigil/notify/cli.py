"""``vigil notify``: notification subscriptions (webhook, WeCom, DingTalk, Feishu, e-mail); a thin shell.

Secrets and robot URLs (whose key is a credential) are asked for at a hidden prompt, never taken
from the command line, so they never show in a process list.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.access.guard import Scope
from vigil.cli_common import DbOpt, HomeOpt, open_instance
from vigil.notify.channels import ROBOT_KINDS
from vigil.notify.subscriptions import (
    ChannelIn,
    add_channel,
    channel_id_named,
    channel_public,
    list_channels,
    remove_channel,
    send_test,
)

__all__ = ["app"]

app = typer.Typer(help="Notification channels: signed webhooks, WeCom/DingTalk/Feishu robots, e-mail.",
                  no_args_is_help=True)
console = Console()
_ACTOR = "cli"
_KINDS = ("webhook", *ROBOT_KINDS, "email")


def _kind(value: str) -> str:
    if value not in _KINDS:
        raise typer.BadParameter(f"choose one of {', '.join(_KINDS)}")
    return value


@app.command("add")
def add(name: str,
        kind: Annotated[str, typer.Option(callback=_kind, help=f"One of {', '.join(_KINDS)}")] = "webhook",
        event: Annotated[list[str] | None, typer.Option(help="Event pattern, e.g. 'alarm.*' (repeatable)")] = None,
        region: Annotated[str, typer.Option(help="Only events of this region subtree")] = "",
        format: Annotated[str, typer.Option(help="Robots: markdown or text")] = "markdown",
        mention: Annotated[list[str] | None, typer.Option(help="Robots: a mobile number to @ (repeatable)")] = None,
        message_lang: Annotated[str, typer.Option(help="Language of the messages sent (zh-CN or en)")] = "zh-CN",
        smtp_host: Annotated[str, typer.Option(help="E-mail: SMTP server")] = "",
        smtp_port: Annotated[int, typer.Option(help="E-mail: SMTP port")] = 25,
        smtp_user: Annotated[str, typer.Option(help="E-mail: SMTP login (the password is prompted)")] = "",
        starttls: Annotated[bool, typer.Option(help="E-mail: upgrade with STARTTLS")] = False,
        mail_from: Annotated[str, typer.Option(help="E-mail: sender address")] = "",
        mail_to: Annotated[list[str] | None, typer.Option(help="E-mail: recipient (repeatable)")] = None,
        db: DbOpt = None, home: HomeOpt = None) -> None:
    """Add a channel. The URL (webhook, robot) and the secret are prompted for, hidden."""
    url = "" if kind == "email" else typer.prompt(f"{kind} URL", hide_input=kind in ROBOT_KINDS)
    label = {"webhook": "HMAC secret (16+ characters)", "email": "SMTP password (empty: none)"}.get(
        kind, "signing secret (empty: none)")
    secret = typer.prompt(label, hide_input=True, default="", show_default=False)
    body = ChannelIn.model_validate(dict(  # kind and format are checked against their Literal types here
        name=name, kind=kind, url=url, secret=secret, events=event or [], region_code=region, format=format,
        mentions=mention or [], lang=message_lang, smtp_host=smtp_host, smtp_port=smtp_port, smtp_user=smtp_user,
        starttls=starttls, mail_from=mail_from, mail_to=mail_to or []))
    v = open_instance(db, home)
    with v.db.session() as s:
        shown = channel_public(add_channel(s, v, body, scope=Scope.everything(), actor=_ACTOR))
    console.print(f"{shown.kind} channel [bold]{name}[/] → {shown.url}", highlight=False, soft_wrap=True)


@app.command("list")
def list_cmd(db: DbOpt = None, home: HomeOpt = None) -> None:
    """List the channels (secrets are never shown; robot keys are redacted)."""
    v = open_instance(db, home)
    with v.db.session() as s:
        rows = [channel_public(h) for h in list_channels(s, scope=Scope.everything())]
    table = Table(title=f"{len(rows)} channel(s)")
    for col in ("id", "name", "kind", "url", "events", "region", "secret", "active"):
        table.add_column(col)
    for c in rows:
        table.add_row(str(c.id), c.name, c.kind, c.url, ", ".join(c.events or ["*"]), c.region_code or "*",
                      "sealed" if c.has_secret else "-", "yes" if c.active else "no")
    console.print(table)


@app.command("test")
def test_cmd(name: str, db: DbOpt = None, home: HomeOpt = None) -> None:
    """Send a test notification through one channel now and say how it went."""
    v = open_instance(db, home)
    with v.db.session() as s:
        channel_id = channel_id_named(s, name, scope=Scope.everything())
    res = asyncio.run(send_test(v, channel_id, scope=Scope.everything()))
    if res.state != "delivered":
        console.print(f"channel {name}: {res.state} ({res.error})", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"channel {name}: delivered", highlight=False)


@app.command("remove")
def remove(name: str, db: DbOpt = None, home: HomeOpt = None) -> None:
    """Delete a channel and its queued deliveries."""
    v = open_instance(db, home)
    with v.db.session() as s:
        remove_channel(s, channel_id_named(s, name, scope=Scope.everything()), scope=Scope.everything(), actor=_ACTOR)
    console.print(f"channel {name} removed")
