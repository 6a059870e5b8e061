"""Refuse NUL characters in every request: path, query, JSON and form bodies (422 naming the field).

No text field of Vigil may hold a NUL: PostgreSQL cannot store one, SQLite truncates on it in
some tools, and it hides the rest of a string from logs and C libraries. Checking once here
covers every route. Multipart uploads are checked by the importer, which refuses a file with
a NUL byte anywhere. Bodies are already bounded by :class:`vigil.api.security.BodyLimit`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.api.problems import problem

__all__ = ["RefuseNul", "nul_location"]

_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
_TEXT_BODIES = (b"application/json", b"application/problem+json", b"application/x-www-form-urlencoded")


def _find(value: Any, loc: list[str | int]) -> list[str | int] | None:
    stack: list[tuple[Any, list[str | int]]] = [(value, loc)]
    while stack:  # iterative: a deeply nested body cannot exhaust the stack
        v, at = stack.pop()
        if isinstance(v, str):
            if "\x00" in v:
                return at
        elif isinstance(v, dict):
            for k, item in v.items():
                if "\x00" in k:
                    return [*at, k.replace("\x00", "\\u0000")]
                stack.append((item, [*at, k]))
        elif isinstance(v, list):
            stack.extend((item, [*at, i]) for i, item in enumerate(v))
    return None


def nul_location(body: bytes, content_type: bytes) -> list[str | int] | None:
    """Where a NUL sits in ``body`` (a loc such as ``["body", "name"]``), or None if there is none."""
    if b"\x00" in body:
        return ["body"]
    if content_type.startswith(b"application/x-www-form-urlencoded"):
        return ["body"] if b"%00" in body else None
    if not _ESCAPED_NUL.search(body):
        return None
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON after all: the route's own parsing answers it
    return _find(doc, ["body"]) or None


class RefuseNul:
    """An ASGI layer answering 422 problem+json for a NUL anywhere in a request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for part, raw in (("path", scope.get("raw_path") or scope["path"].encode()),
                          ("query", scope.get("query_string", b""))):
            if b"\x00" in raw or b"%00" in raw:
                return await _refuse(scope, receive, send, [part])
        ctype = dict(scope["headers"]).get(b"content-type", b"").lower()
        if scope["method"] in ("GET", "HEAD", "OPTIONS") or not ctype.startswith(_TEXT_BODIES):
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        loc = nul_location(body, ctype)
        if loc is not None:
            return await _refuse(scope, receive, send, loc)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, loc: list[str | int]) -> None:
    where = ".".join(str(x) for x in loc)
    answer = problem(422, "invalid-input", "Invalid input", f"{where}: NUL characters are not allowed",
                     scope["path"], errors=[{"loc": loc, "msg": "NUL characters are not allowed"}])
    await answer(scope, receive, send)
