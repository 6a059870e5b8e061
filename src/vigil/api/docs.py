"""The API reference pages, /docs (Swagger UI) and /redoc, served from vendored files (no CDN)."""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

__all__ = ["install"]

_VENDOR = "/ui/vendor"


def _page(title: str, head: str, body: str) -> HTMLResponse:
    return HTMLResponse(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><link rel="icon" href="/ui/favicon.svg">{head}</head>
<body>{body}</body></html>""")


def install(app: FastAPI) -> None:
    """Add /docs and /redoc to ``app`` (created with ``docs_url=None, redoc_url=None``)."""
    spec = escape(app.openapi_url or "/openapi.json")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return _page(f"{app.title} - Swagger UI",
                     f'<link rel="stylesheet" href="{_VENDOR}/swagger-ui/swagger-ui.css">',
                     f'<div id="swagger-ui" data-url="{spec}"></div>'
                     f'<script src="{_VENDOR}/swagger-ui/swagger-ui-bundle.js"></script>'
                     '<script src="/ui/js/swagger-init.js"></script>')

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _page(f"{app.title} - ReDoc", "",
                     f'<redoc spec-url="{spec}"></redoc><script src="{_VENDOR}/redoc/redoc.standalone.js"></script>')
