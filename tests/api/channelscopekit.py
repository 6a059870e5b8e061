"""Notification channels in the scope matrix: a WeCom robot channel per area, and fresh ones for writes.

Importing this registers a seeder with :mod:`scopekit` and the ``MISSING`` ID of ``channel_id``;
:mod:`matrixkit` merges :data:`PATH` and :data:`BODIES`.
"""

from __future__ import annotations

from collections.abc import Callable

from scopekit import AREAS, MISSING, SEEDERS, TAG, Ctx

from vigil.access.guard import Scope
from vigil.notify.subscriptions import ChannelIn, add_channel

#: A robot URL on a closed port: a test notification is tried and fails at once.
URL = "http://127.0.0.1:9/cgi-bin/webhook/send?key=k-{}"


def body(ctx: Ctx, area: str) -> dict[str, object]:
    return {"name": f"{TAG[area]} channel {ctx.n()}", "kind": "wecom", "url": URL.format(ctx.n()),
            "region_code": AREAS[area][1]}


def _channel(ctx: Ctx, area: str) -> str:
    with ctx.v.db.session() as s:
        hook = add_channel(s, ctx.v, ChannelIn(**body(ctx, area)), scope=Scope.everything(), actor="seed")
        return str(hook.id)


def seed(ctx: Ctx) -> None:
    """Per area: one channel."""
    for area in AREAS:
        ctx.objs[area]["channel_id"] = _channel(ctx, area)


SEEDERS.append(seed)
MISSING["channel_id"] = "987654"

PATH: dict[str, Callable[[Ctx, str, str, bool], str]] = {
    "channel_id": lambda c, a, p, f: _channel(c, a) if f else c.objs[a]["channel_id"],
}
