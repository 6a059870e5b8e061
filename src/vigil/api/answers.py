"""Answers built in the handler's own thread: a route's ``*Public`` model validated and encoded once.

For a plain ``def`` handler FastAPI validates the returned value against ``response_model`` in a
second worker thread (one more hop through AnyIO's pool per request, which under load waits for the
GIL and for a thread). A hot route instead returns :func:`model_response`: the same model checks the
same data once, in the thread that built it, and FastAPI sends the bytes as they are. The route still
declares ``response_model`` (the OpenAPI document and the response-model test read it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Response
from pydantic import BaseModel

__all__ = ["model_response"]


def model_response(model: type[BaseModel], data: Mapping[str, Any], *, status_code: int = 200,
                   headers: Mapping[str, str] | None = None) -> Response:
    """``data`` validated as ``model`` and encoded as JSON (as FastAPI's response_model would), in one step."""
    body = model.model_validate(data).model_dump_json(by_alias=True)
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)
