"""The HTTP API: a thin FastAPI shell over library functions, one router per capability."""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path

from fastapi import Depends, FastAPI, Request, Response
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from vigil import __version__
from vigil.access.throttle import LoginThrottle
from vigil.api import contract, docs, problems
from vigil.api import metrics as api_metrics
from vigil.api.admission import Admission
from vigil.api.deps import CurrentPrincipal, VigilDep, get_principal
from vigil.api.inputs import RefuseNul
from vigil.api.public.common import ConfigPublic, ServicePublic
from vigil.api.security import AuthBeforeBody, BodyLimit, SecurityHeaders, request_token, token_matches
from vigil.core.context import Vigil
from vigil.core.errors import AccessDenied
from vigil.core.models import Role

__all__ = ["ROUTERS", "create_app"]

# (module, prefix, tag). Each module exposes ``router``. Capability packages add a line here.
ROUTERS: list[tuple[str, str, str]] = [
    ("vigil.api.routers.plan", "/api/v1/plans", "coverage plans"),
    ("vigil.api.routers.city_plan", "/api/v1/city-plans", "city plans"),
    ("vigil.api.routers.auth", "/api/v1/auth", "auth"),
    ("vigil.api.routers.regions", "/api/v1/regions", "regions"),
    ("vigil.api.routers.sites", "/api/v1/sites", "sites"),
    ("vigil.api.routers.models", "/api/v1/models", "camera models"),
    ("vigil.api.routers.cameras", "/api/v1/cameras", "cameras"),
    ("vigil.api.routers.users", "/api/v1/users", "users"),
    ("vigil.api.routers.rollups", "/api/v1/rollups", "rollups"),
    ("vigil.api.routers.audit", "/api/v1/audit", "audit"),
    ("vigil.api.routers.health", "/api/v1/health", "health"),
    ("vigil.api.routers.video", "/api/v1/video", "video"),
    ("vigil.api.routers.walls", "/api/v1/video/walls", "video walls"),
    ("vigil.api.routers.snapshots", "/api/v1/video/snapshots", "video snapshots"),
    ("vigil.api.routers.transfer", "/api/v1", "import and export"),
    ("vigil.api.routers.events", "/api/v1/events", "events"),
    ("vigil.api.routers.analytics", "/api/v1/analytics", "analytics"),
    ("vigil.api.routers.centre", "/api/v1/centre", "monitoring centre"),
    ("vigil.api.routers.federation", "", "federation"),
    ("vigil.api.routers.gb28181", "/api/v1/gb", "gb28181"),
    ("vigil.api.routers.notify", "/api/v1/notify", "notifications"),
]

_WEB = Path(__file__).resolve().parent.parent / "web" / "static"


async def metrics_reader(request: Request, v: VigilDep) -> None:
    """``/metrics`` is for admins, or for a scraper holding ``VIGIL_METRICS_TOKEN`` (compared in constant time)."""
    token, source = request_token(request)
    if source == "header" and token_matches(token, v.settings.metrics_token):
        return
    if (await get_principal(request, None)).role != Role.ADMIN:
        raise AccessDenied("metrics need the admin role or the metrics token")


def create_app(vigil: Vigil) -> FastAPI:
    """Build the API for ``vigil``; nothing global is touched."""
    app = FastAPI(title="Vigil API", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                  description="City video-surveillance platform. Every route needs a bearer token.")
    app.state.vigil = vigil
    app.state.login_throttle = LoginThrottle()
    problems.install(app)
    contract.install(app)
    app.add_middleware(problems.CatchAll)  # first added = innermost: a 500 is an answer, not a dropped connection
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(RefuseNul)  # inside BodyLimit and AuthBeforeBody: a bounded body of a known caller
    # Added last = outermost: headers on every answer; size and authentication settled before a body is read.
    app.add_middleware(AuthBeforeBody, db=vigil.db)
    app.add_middleware(Admission)  # outside AuthBeforeBody: its token lookup takes a thread and the database
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders, tile_url=vigil.settings.tile_url)
    app.state.metrics_registry = api_metrics.install(app, vigil.db.engine)  # outermost: every answer is counted
    for mod, prefix, tag in ROUTERS:
        app.include_router(importlib.import_module(mod).router, prefix=prefix, tags=[tag])

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document(request: Request) -> Response:
        """The OpenAPI document, serialised once, with an ETag: every console page asks for it at start."""
        cached = getattr(app.state, "openapi_bytes", None)
        if cached is None:
            body = json.dumps(app.openapi(), separators=(",", ":")).encode()
            cached = app.state.openapi_bytes = (body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
        body, tag = cached
        headers = {"ETag": tag, "Cache-Control": "no-cache"}  # the browser revalidates: a 304 while unchanged
        if tag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    @app.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_reader)])
    def metrics() -> Response:
        own = generate_latest(app.state.metrics_registry)
        workers = getattr(app.state, "workers", None)  # vigil serve --workers N: every process's figures
        if workers is not None:
            from vigil.api.workers import merged_metrics

            own = merged_metrics([("0", own.decode()), *workers.expositions()])
        return Response(own, media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/v1/config", tags=["meta"])
    def config(_: CurrentPrincipal) -> ConfigPublic:
        """Console settings: an optional map tile URL (none by default: the map draws our own vectors), time zone."""
        return ConfigPublic(tile_url=vigil.settings.tile_url,
                            tile_attribution=vigil.settings.extra.get("tile_attribution", ""),
                            time_zone=vigil.settings.time_zone)

    @app.get("/api/v1/health", tags=["meta"])
    def health(_: CurrentPrincipal) -> ServicePublic:
        """The service is up: its version and database dialect."""
        return ServicePublic(status="ok", version=__version__, database=vigil.db.dialect)

    if _WEB.exists():
        app.mount("/ui", StaticFiles(directory=_WEB, html=True), name="ui")
        docs.install(app)

        @app.get("/", include_in_schema=False)
        def root() -> RedirectResponse:
            return RedirectResponse("/ui/")

    return app
