"""Bulk import (admins: ``registry.write``) and camera export (``registry.read``, within the caller's scope)."""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile

from vigil.access.guard import check_permission
from vigil.access.users import Principal
from vigil.api.deps import SessionDep, VigilDep, require
from vigil.api.public.misc import ImportPublic
from vigil.core.errors import ImportBusy, InputError
from vigil.core.telemetry import telemetry
from vigil.registry.io import EXPORT_FORMATS, IMPORTERS, ExportFormat, export_cameras

router = APIRouter()

MAX_UPLOAD = 200 * 2**20
_HELP = {
    "regions": "Regions from CSV (code,name,level,parent[,lon,lat]) or GeoJSON features whose geometry is the outline.",
    "sites": "Sites from CSV (name,region,kind,protection_class,sensitive,lon,lat,geometry) or GeoJSON polygons.",
    "models": "Camera models from CSV: name,vendor,h_res_px,v_res_px,hfov_deg,vfov_deg,ir_range_m,form_factor,"
              "unit_cost.",
    "cameras": "Cameras from CSV (id,name,region,site,lon,lat,...) or GeoJSON points; an empty id is generated.",
}
Upload = Annotated[UploadFile, File(description="CSV (UTF-8) or GeoJSON file; columns in docs/formats.md")]
DryRun = Annotated[bool, Query(description="check every row and report counts; store nothing")]


class ImportSlots:
    """At most ``limit`` imports run at once; the others wait in one line and start in the order they came.

    The line holds at most ``max_waiting`` imports: one that would be past it is refused at once (503 with
    ``Retry-After``), as is one that waited ``wait_s`` without its turn. A waiting import holds an admitted
    request (:mod:`vigil.api.admission`) and a worker thread, so the line stays short.
    """

    def __init__(self, limit: int, *, max_waiting: int = 4, wait_s: float = 600.0, retry_after_s: int = 30) -> None:
        self.limit, self.max_waiting, self.wait_s, self.retry_after_s = limit, max_waiting, wait_s, retry_after_s
        self._cond = threading.Condition()
        self._line: deque[int] = deque()  # tickets of the waiting imports, first come first
        self._running = 0
        self._tickets = itertools.count()

    @property
    def waiting(self) -> int:
        """Imports in line now."""
        with self._cond:
            return len(self._line)

    def _busy(self, why: str) -> ImportBusy:
        return ImportBusy(f"{why}; retry in {self.retry_after_s} s", retry_after=self.retry_after_s)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Wait for this import's turn (in arrival order), run it, then hand the slot to the next in line."""
        with self._cond:
            if (self._line or self._running >= self.limit) and len(self._line) >= self.max_waiting:
                raise self._busy(f"{self._running} import(s) are running and {len(self._line)} waiting")
            ticket = next(self._tickets)
            self._line.append(ticket)
            turn = self._cond.wait_for(lambda: self._line[0] == ticket and self._running < self.limit, self.wait_s)
            self._line.remove(ticket)
            if not turn:
                self._cond.notify_all()
                raise self._busy(f"no import slot came free in {self.wait_s:g} s")
            self._running += 1
            self._cond.notify_all()  # the next in line may start too when more slots are free
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()


#: the server's imports: ``VIGIL_IMPORT_SLOTS`` at once (default 1; each holds < 500 MB for 200 MiB), and a
#: line of ``VIGIL_IMPORT_QUEUE`` more (default 4) served in arrival order
SLOTS = ImportSlots(max(1, int(os.environ.get("VIGIL_IMPORT_SLOTS", "1") or 1)),
                    max_waiting=max(0, int(os.environ.get("VIGIL_IMPORT_QUEUE", "4") or 0)))


@contextmanager
def spooled(file: UploadFile, home: Path) -> Iterator[Path]:
    """Copy the upload in 1 MiB chunks to a private temporary file under ``home`` (refused over the limit)."""
    suffix = Path(file.filename or "").suffix.lower()
    fd, name = tempfile.mkstemp(prefix=".import-", suffix=suffix if suffix in (".csv", ".json", ".geojson")
                                else ".upload", dir=home)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            size = 0
            while chunk := file.file.read(2**20):
                size += len(chunk)
                if size > MAX_UPLOAD:
                    raise InputError(f"the file is larger than {MAX_UPLOAD // 2**20} MiB")
                out.write(chunk)
        yield path
    finally:
        path.unlink(missing_ok=True)


def _importer(kind: str) -> Callable[..., dict[str, Any]]:
    def handler(session: SessionDep, v: VigilDep, file: Upload, dry_run: DryRun = False,
                p: Principal = Depends(require("registry.write"))) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"box": v.box} if kind == "cameras" else {}
        with SLOTS.slot(), spooled(file, v.settings.home) as path:
            try:
                rep = IMPORTERS[kind](session, path, actor=p.name, scope=p.scope, dry_run=dry_run, fmt="auto",
                                      name=file.filename or "upload", **kwargs)
            except Exception:
                telemetry().job_failed("import")  # a refused file counts too: vigil_job_errors_total{kind="import"}
                raise
        return rep.as_dict()

    handler.__name__ = f"import_{kind}"
    handler.__doc__ = _HELP[kind] + (" Any bad row rejects the whole file (problem+json with every row error). "
                                     "Imports run one at a time (VIGIL_IMPORT_SLOTS); others wait in line in the order "
                                     "they came (VIGIL_IMPORT_QUEUE long); past it the server answers 503 with "
                                     "Retry-After.")
    return handler


for _kind in IMPORTERS:
    router.add_api_route(f"/import/{_kind}", _importer(_kind), methods=["POST"], summary=f"Import {_kind}",
                         response_model=ImportPublic)


@router.get("/export/cameras", response_class=Response,
            responses={200: {"content": {m: {} for m, _ in EXPORT_FORMATS.values()}}})
def export_cameras_route(session: SessionDep, v: VigilDep,
                         fmt: Annotated[ExportFormat, Query(alias="format")] = "csv",
                         region: Annotated[str | None, Query(description="only this region's subtree")] = None,
                         include_secrets: Annotated[bool, Query(description="admins only")] = False,
                         p: Principal = Depends(require("registry.read"))) -> Response:
    """Cameras in the caller's scope as CSV (import columns), GeoJSON points or GeoPackage. Audited."""
    if include_secrets:
        check_permission(p, "registry.secrets")
    data = export_cameras(session, scope=p.scope, fmt=fmt, region=region, box=v.box if include_secrets else None,
                          include_secrets=include_secrets, actor=p.name)
    media, ext = EXPORT_FORMATS[fmt]
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="cameras{ext}"'})
