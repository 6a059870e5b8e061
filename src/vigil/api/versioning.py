"""Optimistic concurrency over HTTP: ``ETag`` on reads, ``If-Match`` on changes (RFC 9110).

Regions, sites, cameras and users carry a ``version`` that every ORM update checks and bumps
(SQLAlchemy ``version_id_col``). A GET answers it as a strong ETag. A PATCH with ``If-Match``
is applied only while that version is still the stored one (412 otherwise); a PATCH that lost
a race with another writer is a 409 (StaleDataError, see :mod:`vigil.api.problems`). Either way
the client re-reads and retries; an update is never lost silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Protocol

from fastapi import Header, Response
from sqlalchemy.orm import Session

__all__ = ["IfMatch", "Versioned", "etag", "expected_versions", "layer_response", "set_etag"]

IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=200,
                                       description="the ETag of the version this change is based on; "
                                                   "412 if the object changed since")]


class Versioned(Protocol):
    """An object with an optimistic-locking version."""

    version: int


def etag(obj: Versioned) -> str:
    """The strong entity tag of ``obj``'s current version."""
    return f'"{obj.version}"'


def expected_versions(if_match: str | None) -> frozenset[int] | None:
    """The versions an ``If-Match`` accepts; None when it sets no precondition (absent or ``*``).

    A tag that is not one of ours matches nothing, so the change is refused (412).
    """
    if if_match is None:
        return None
    tags = [t.strip().removeprefix("W/") for t in if_match.split(",")]
    if "*" in tags:
        return None
    return frozenset(int(t[1:-1]) for t in tags if len(t) > 2 and t[0] == t[-1] == '"' and t[1:-1].isdigit()
                     and len(t) < 22)


def set_etag(response: Response, session: Session, obj: Versioned) -> None:
    """Put ``obj``'s ETag on ``response``, flushing first so that a change's new version is the one sent."""
    session.flush()
    response.headers["ETag"] = etag(obj)


def layer_response(tag: str, if_none_match: str | None, body: Callable[[], bytes]) -> Response:
    """A map layer answered under its ETag: 304 while ``If-None-Match`` still holds (``body`` is not built), else JSON.

    ``Cache-Control: private, no-cache``: the browser keeps the layer and asks again with If-None-Match.
    """
    headers = {"ETag": tag, "Cache-Control": "private, no-cache", "Vary": "Cookie, Authorization"}
    if if_none_match and tag in (t.strip() for t in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(body(), media_type="application/json", headers=headers)
