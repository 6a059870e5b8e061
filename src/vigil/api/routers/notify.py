"""Notification channels: list, create, test and delete subscriptions (signed webhooks, robots, e-mail).

Admins only (``notify.manage``), inside their region scope: a channel of another region answers 404,
and a channel for every region needs the instance's whole scope. Secrets are write-only.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from vigil.access.users import Principal
from vigil.api.deps import SessionDep, VigilDep, require
from vigil.notify import subscriptions as subs
from vigil.notify.subscriptions import ChannelIn, ChannelPublic

router = APIRouter()

NotifyManage = Annotated[Principal, Depends(require("notify.manage"))]


class ChannelTestPublic(BaseModel):
    """How a test notification went."""

    state: str
    error: str


@router.get("/channels")
def channels(p: NotifyManage, session: SessionDep) -> list[ChannelPublic]:
    """The channels in the caller's scope (no secrets; robot keys redacted)."""
    return [subs.channel_public(h) for h in subs.list_channels(session, scope=p.scope)]


@router.post("/channels", status_code=201)
def add_channel(body: ChannelIn, p: NotifyManage, session: SessionDep, v: VigilDep) -> ChannelPublic:
    """Create a channel for a region subtree inside the caller's scope."""
    return subs.channel_public(subs.add_channel(session, v, body, scope=p.scope, actor=p.name))


@router.post("/channels/{channel_id}/test")
def test_channel(channel_id: int, p: NotifyManage, v: VigilDep) -> ChannelTestPublic:
    """Send one test notification through the channel now.

    A sync handler: the delivery and its database work run in this worker thread on a loop of their own,
    never on the server's event loop.
    """
    res = asyncio.run(subs.send_test(v, channel_id, scope=p.scope))
    return ChannelTestPublic(state=res.state, error=res.error)


@router.delete("/channels/{channel_id}", status_code=204)
def delete_channel(channel_id: int, p: NotifyManage, session: SessionDep) -> None:
    """Delete a channel and its queued deliveries."""
    subs.remove_channel(session, channel_id, scope=p.scope, actor=p.name)
