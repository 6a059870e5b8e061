"""``vigil link ...``: link this instance to its parent or its children (thin shells over the library)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from sqlalchemy import select

from vigil.access.guard import Scope
from vigil.cli_common import DbOpt, HomeOpt, console, open_instance
from vigil.core.errors import InputError, NotFoundError
from vigil.federation.links import ShareRules, add_child, add_parent, parent_link, parse_rules, set_rules
from vigil.federation.models import FedLink
from vigil.federation.peer import list_links
from vigil.federation.service import push_until_idle
from vigil.registry.cli import _actor  # the one CLI actor name (cli:<user>)

__all__ = ["app"]

app = typer.Typer(help="Vigil-to-Vigil links: share catalog, status and video with a parent instance.",
                  no_args_is_help=True)
RulesOpt = Annotated[str, typer.Option("--share", help="Sharing rules: all, or regions=CODE,..;classes=1,2;"
                                                       "kinds=public_area,..;live|recordings")]


@app.command("add-child")
def add_child_cmd(name: Annotated[str, typer.Argument(help="A name for the child instance")],
                  region: Annotated[str, typer.Option("--region", help="The child's region subtree")],
                  db: DbOpt = None, home: HomeOpt = None) -> None:
    """Issue a link token for a child bound to REGION's subtree (shown once; only its SHA-256 is kept)."""
    v = open_instance(db, home)
    with v.db.session() as s:
        token = add_child(s, name, region, actor=_actor())
    console.print(f"Link token for {name} (give it to the child's `vigil link add-parent`; shown once):")
    print(token)


@app.command("add-parent")
def add_parent_cmd(url: Annotated[str, typer.Argument(help="The parent's base URL (https://...)")],
                   token: Annotated[str, typer.Option("--token", help="The token from the parent's add-child "
                                                                      "(default: asked for)")] = "",
                   share: RulesOpt = "all",
                   advertise: Annotated[str, typer.Option(help="This instance's own URL, for proxied video")] = "",
                   ca_file: Annotated[str, typer.Option("--ca-file", help="Trust this PEM certificate for the "
                                                                          "parent (closed networks)")] = "",
                   db: DbOpt = None, home: HomeOpt = None) -> None:
    """Link this instance to its parent; it then publishes its catalog and status while `vigil serve` runs."""
    token = token or getpass.getpass("link token: ")
    rules = parse_rules(share)
    v = open_instance(db, home)
    with v.db.session() as s:
        add_parent(s, v.box, url, token, rules, actor=_actor(), ca_file=ca_file or None, advertise=advertise)
    console.print(f"Linked to {url}; sharing {rules.model_dump()}")


@app.command("share")
def share_cmd(share: RulesOpt, db: DbOpt = None, home: HomeOpt = None) -> None:
    """Replace the sharing rules of the parent link (un-shared cameras are removed upward)."""
    v = open_instance(db, home)
    with v.db.session() as s:
        set_rules(s, parse_rules(share), actor=_actor())
    console.print("Sharing rules changed; everything is re-published under them.")


@app.command("unshare")
def unshare_cmd(camera: Annotated[list[str], typer.Argument(help="Camera IDs never to share")],
                db: DbOpt = None, home: HomeOpt = None) -> None:
    """Stop sharing these cameras with the parent (they are removed upward)."""
    v = open_instance(db, home)
    with v.db.session() as s:
        link = parent_link(s)
        if link is None:
            raise NotFoundError("this instance has no parent link")
        rules = ShareRules(**(link.rules or {}))
        rules.exclude = sorted(set(rules.exclude) | set(camera))
        set_rules(s, rules, actor=_actor())
    console.print(f"{len(camera)} camera(s) un-shared.")


@app.command("list")
def list_cmd(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Links with their rules and health (last contact, lag, errors)."""
    v = open_instance(db, home)
    with v.db.session() as s:
        for link in list_links(s, Scope.everything()):
            console.print(f"{link.direction:6} {link.name:20} {link.region_code or '-':12} {link.url or '-':30} "
                          f"seq={link.seq} lag={link.lag} errors={link.errors} last={link.last_contact} "
                          f"{link.last_error[:80]}")


@app.command("push")
def push_cmd(db: DbOpt = None, home: HomeOpt = None) -> None:
    """Publish everything pending to the parent now (``vigil serve`` does this continuously)."""
    v = open_instance(db, home)
    with v.db.session() as s:
        if s.scalar(select(FedLink.id).where(FedLink.direction == "parent")) is None:
            raise InputError("this instance has no parent link")
    console.print(f"{push_until_idle(v)} entries published.")
