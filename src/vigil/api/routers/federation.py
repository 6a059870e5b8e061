"""Federation: links and remote cameras for users; the feed for linked Vigil instances (link tokens)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from vigil.access.users import Principal
from vigil.api.deps import SessionDep, VigilDep, require
from vigil.api.security import request_token
from vigil.core.errors import InputError
from vigil.federation.models import Direction
from vigil.federation.peer import (
    LinkPublic,
    RemoteCameraPublic,
    authenticate_link,
    list_links,
    list_remote,
    receive_feed,
)

router = APIRouter()
Reader = Annotated[Principal, Depends(require("registry.read"))]


@router.get("/api/v1/federation/links")
def links(p: Reader, session: SessionDep) -> list[LinkPublic]:
    """The links of this instance in your scope, with their sharing rules and health (last contact, lag, errors)."""
    return list_links(session, p.scope)


@router.get("/api/v1/federation/remote")
def remote(p: Reader, session: SessionDep, limit: int = 1000) -> list[RemoteCameraPublic]:
    """Cameras in your scope that live on an instance below, marked with the instance they come from."""
    return list_remote(session, p.scope, limit=limit)


@router.post("/federation/v1/feed", tags=["federation peers"])
async def feed(request: Request, session: SessionDep, v: VigilDep) -> dict[str, Any]:
    """A child's publication (link token). Authenticated before its body is read."""
    link = await run_in_threadpool(authenticate_link, session, request_token(request)[0], Direction.CHILD)
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise InputError("the feed batch is not JSON") from None
    rid = request.headers.get("x-request-id", "")[:64]
    return await run_in_threadpool(receive_feed, session, v.box, link, body, request_id=rid)
