"""The API's own contract: problem+json error responses declared on every operation.

Every error Vigil answers is an RFC 9457 document (:mod:`vigil.api.problems`), so the OpenAPI
document declares exactly that: a ``Problem`` schema under ``application/problem+json`` for
400, 401, 403, 404, 409, 412 (changes), 413 (bodies), 422, 429 and 503 on every operation, in
place of FastAPI's ``HTTPValidationError`` (which the server never sends).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

__all__ = ["FieldError", "Problem", "install", "media"]

_REF = "#/components/schemas/Problem"
_ERRORS: dict[str, str] = {
    "400": "Malformed request (e.g. a body that is not JSON)",
    "401": "No valid token",
    "403": "The caller's role does not allow this",
    "404": "No such object in the caller's scope",
    "409": "Conflicts with stored state, or lost a race with another change (re-read and retry)",
    "422": "Invalid input; `errors` names each field",
    "429": "Too many attempts (see Retry-After)",
    "503": "Busy or not ready (see Retry-After)",
}
_CHANGE = {"412": "If-Match names a version that is no longer the stored one (re-read and retry)"}
_BODY = {"413": "Request body too large"}


class FieldError(BaseModel):
    """One invalid field: where it is and what is wrong."""

    loc: list[str | int] = Field(description='where, e.g. ["body", "tilt_deg"] or ["query", "offset"]')
    msg: str
    msg_en: str | None = Field(None, description="the English of `msg`, when `msg` was sent in another language")


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type: str
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    detail_en: str | None = Field(None, description="the English of `detail`, when it was sent in the language "
                                                    "of the request's Accept-Language (zh-CN)")
    instance: str = ""
    errors: list[FieldError | dict[str, Any]] | None = Field(None, description="per-field errors (422)")


def media(*types: str, description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that answers a file or a stream: its media types instead of a JSON model."""
    def schema(t: str) -> dict[str, Any]:  # a JSON file (a plan's summary, GeoJSON) is an object, others bytes
        return {"type": "object"} if t.split(";")[0].endswith("json") else {"type": "string", "format": "binary"}

    return {200: {"description": description, "content": {t: {"schema": schema(t)} for t in types}}}


def _declare(op: dict[str, Any], method: str) -> None:
    codes = dict(_ERRORS)
    if method in ("put", "patch", "delete"):
        codes |= _CHANGE
    if method in ("post", "put", "patch"):
        codes |= _BODY
    responses = op.setdefault("responses", {})
    for code, text in codes.items():
        responses[code] = {"description": text,
                           "content": {"application/problem+json": {"schema": {"$ref": _REF}}}}


def contract(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of ``app`` with the problem responses declared (built once)."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for path in doc.get("paths", {}).values():
        for method, op in path.items():
            if isinstance(op, dict) and "responses" in op:
                _declare(op, method)
    app.openapi_schema = doc
    return doc


def install(app: FastAPI) -> None:
    """Serve :func:`contract` as the app's OpenAPI document."""
    app.openapi = lambda: contract(app)  # type: ignore[method-assign]
