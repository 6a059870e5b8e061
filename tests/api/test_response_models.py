"""Every route states what it answers: a pydantic ``*Public`` model, or (files, streams) its media types."""

from __future__ import annotations

import types
import typing

import pytest
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from vigil.api.app import create_app


def _models(tp: object) -> list[type]:
    """The classes a response model is made of (``list[X]``, ``X | Y`` unpacked); anything else as itself."""
    origin = typing.get_origin(tp)
    if origin in (list, typing.Union, types.UnionType):
        return [m for arg in typing.get_args(tp) for m in _models(arg)]
    return [tp]  # type: ignore[list-item]


def _routes(app) -> list[tuple[str, str, APIRoute]]:  # type: ignore[no-untyped-def]
    out = []
    for ctx in iter_route_contexts(app.router.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            out.extend((m, ctx.path_format, route) for m in sorted(route.methods))
    return out


@pytest.fixture(scope="module")
def app(tmp_path_factory):  # type: ignore[no-untyped-def]
    from vigil.core.context import Vigil

    d = tmp_path_factory.mktemp("contract")
    v = Vigil.open(f"sqlite:///{d / 'v.db'}", str(d / "home"))
    yield create_app(v)
    v.close()


def test_every_json_route_declares_a_public_model(app):
    doc = app.openapi()
    untyped, routes = [], _routes(app)
    assert len(routes) > 120  # the walk really sees the included routers' routes
    for method, path, route in routes:
        where = f"{method} {path}"
        ok = {c: r for c, r in doc["paths"][path][method.lower()]["responses"].items() if c.startswith("2")}
        content = next(iter(ok.values())).get("content", {}) if ok else {}
        if route.status_code == 204:
            assert not content, where  # no body, and none declared
            continue
        response_class = getattr(route.response_class, "value", route.response_class)
        if route.response_model is None:  # a file or a stream: it says which media types it answers
            if response_class is JSONResponse or not content or "application/problem+json" in content:
                untyped.append(f"{where}: no response model and no media types")
            continue
        bad = [m for m in _models(route.response_model) if not (isinstance(m, type) and issubclass(m, BaseModel))]
        schema = str(content.get("application/json", {}).get("schema", {}))
        if bad or "#/components/schemas/" not in schema:
            untyped.append(f"{where}: answers {route.response_model!r}")
    assert not untyped, "\n".join(untyped)


def test_file_routes_name_their_media_types(app):
    doc = app.openapi()
    report = doc["paths"]["/api/v1/health/report/daily"]["get"]["responses"]["200"]["content"]
    assert set(report) == {"text/html", "application/pdf"}
    clip = doc["paths"]["/api/v1/video/retrievals/{request_id}/playback.mp4"]["get"]["responses"]["200"]["content"]
    assert clip == {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}
    job = doc["paths"]["/api/v1/plans/jobs/{job_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert job["schema"] == {"$ref": "#/components/schemas/JobPublic"}
    assert "events_url" in doc["components"]["schemas"]["JobPublic"]["required"]
