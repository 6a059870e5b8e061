"""Shared parts of bulk import: reading CSV / GeoJSON / row dicts, checking cells, reporting, writing.

Every importer follows the same steps: read the input as ``(line, {column: text})`` rows (a
file is parsed lazily, see :mod:`vigil.registry.io_stream`), check every row and collect *all*
:class:`~vigil.core.errors.RowError` s, raise :class:`~vigil.core.errors.ImportRejected` if there
is any, and only then write in bulk (cameras: in batches, reading the file a second time).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vigil.access.audit import record
from vigil.access.guard import Scope, region_visible
from vigil.core.errors import (
    ConflictError,
    ImportDenied,
    ImportNotFound,
    ImportRejected,
    InputError,
    RowError,
)
from vigil.registry.io_stream import Opener, RowStream, csv_items, geojson_items, opener_for, precheck

__all__ = ["ImportReport", "Progress", "RowReader", "Source", "read_rows"]

#: ``progress(stage, done, total)``; stage is ``"check"`` or ``"write"``.
Progress = Callable[[str, int, int], None]
#: What an importer accepts: a file path, the raw bytes of a file, or row mappings.
Source = str | Path | bytes | Iterable[Mapping[str, Any]]
Format = Literal["auto", "csv", "geojson"]
Geo = Literal["point", "polygon"] | None

_BATCH = 5000


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of one import (or of a dry run, which stores nothing)."""

    kind: str
    source: str
    rows: int
    created: int
    updated: int
    unchanged: int
    dry_run: bool = False
    seconds: float = 0.0
    generated_ids: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Columns:
    """The columns one kind of file may have; ``required`` ones must be in a CSV header."""

    required: tuple[str, ...]
    optional: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return self.required + self.optional


@dataclass(slots=True)
class Rows:
    """A file read into rows: ``items`` are ``(line, cells)``; ``errors`` are rows that failed to parse."""

    source: str
    items: Sequence[tuple[int, dict[str, str]]] | RowStream
    errors: list[RowError] = field(default_factory=list)


# ----------------------------------------------------------------------------- reading
def read_rows(src: Source, cols: Columns, *, geo: Geo = None, fmt: Format = "auto",
              name: str = "") -> Rows:
    """Read a path, bytes or row mappings into :class:`Rows`; raise :class:`InputError` on a bad file."""
    if isinstance(src, str | Path):
        path = Path(src)
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        raw: Path | bytes = path
        name = name or str(path)
        if fmt == "auto" and path.suffix.lower() in (".geojson", ".json"):
            fmt = "geojson"
    elif isinstance(src, bytes | bytearray):
        raw = bytes(src)
        name = name or "upload"
        if fmt == "auto" and name.lower().endswith((".geojson", ".json")):
            fmt = "geojson"
    else:
        return _from_mappings(src, cols, name or "rows")
    return _from_file(opener_for(raw), name, cols, geo, fmt)


def _from_file(open_: Opener, name: str, cols: Columns, geo: Geo, fmt: Format) -> Rows:
    """Rows parsed lazily from a file (see :mod:`vigil.registry.io_stream`)."""
    first, lines = precheck(open_, name, _is_gbk)
    if fmt == "auto":
        fmt = "geojson" if first == "{" else "csv"
    out = Rows(name, [])
    if fmt == "geojson":
        if geo is None:
            raise InputError(f"{name}: this kind is imported from CSV only, not GeoJSON")
        parse = geojson_items(open_, name, lambda feat, i, errors: _feature(feat, i, errors, geo))
    else:
        parse = csv_items(open_, name, lambda row: _header(row, cols, name), restore_formula)
    out.items = RowStream(parse, out.errors, lines)
    return out


def _is_gbk(data: bytes) -> bool:
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict | list):
        return json.dumps(v)
    return str(v).strip()


def _from_mappings(rows: Iterable[Mapping[str, Any]], cols: Columns, name: str) -> Rows:
    known = set(cols.all)
    items = []
    for i, row in enumerate(rows, start=1):
        cells = {str(k).strip().lower(): _cell(v) for k, v in row.items()}
        unknown = sorted(set(cells) - known)
        if unknown:
            raise InputError(f"{name}: row {i} has unknown field(s) {', '.join(unknown)}; "
                             f"known: {', '.join(cols.all)}")
        items.append((i, cells))
    return Rows(name, items)


def _header(row: list[str], cols: Columns, name: str) -> list[str]:
    header = [h.strip().lower() for h in row]
    if len(header) == 1 and cols.all != (header[0],):
        for sep in (";", "\t", "|"):
            if sep in header[0]:
                raise InputError(f"{name}: fields must be separated by commas, not {sep!r}")
    if any(not h for h in header):
        raise InputError(f"{name}: the header row has an empty column name")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise InputError(f"{name}: column(s) {', '.join(dup)} appear more than once in the header")
    missing = [c for c in cols.required if c not in header]
    unknown = [h for h in header if h not in cols.all]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s) {', '.join(unknown[:10])}")
        raise InputError(f"{name}: {'; '.join(parts)} in the header (is this the right file?); "
                         f"columns: {', '.join(cols.all)}")
    return header


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse_formula(value: Any) -> Any:
    """Prefix ``'`` to text a spreadsheet would run as a formula (CSV injection); numbers pass unchanged."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def restore_formula(cell: str) -> str:
    """Undo :func:`defuse_formula` on a CSV cell."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in _FORMULA_START else cell


def _feature(feat: Any, i: int, errors: list[RowError], geo: Geo) -> tuple[int, dict[str, str]] | None:
    """Feature ``i`` as cells, or ``None`` with a row error."""
    if not isinstance(feat, dict) or feat.get("type") != "Feature":
        errors.append(RowError(i, "(feature)", "is not a GeoJSON Feature"))
        return None
    props = feat.get("properties") or {}
    if not isinstance(props, dict):
        errors.append(RowError(i, "properties", "must be an object"))
        return None
    try:  # ijson builds deep documents without recursing; writing them back as text does recurse
        cells = {str(k).strip().lower(): _cell(v) for k, v in props.items()}
        err = _geometry_cells(feat.get("geometry"), geo, cells)
    except RecursionError:
        errors.append(RowError(i, "(feature)", "is nested too deeply"))
        return None
    if err:
        errors.append(RowError(i, "geometry", err))
        return None
    return i, cells


def _geometry_cells(g: Any, geo: Geo, cells: dict[str, str]) -> str:
    """Put a feature's geometry into ``cells``; return an error text or ``""``."""
    if geo == "point":
        coords = g.get("coordinates") if isinstance(g, dict) and g.get("type") == "Point" else None
        if not (isinstance(coords, list) and len(coords) >= 2
                and all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords[:2])):
            return "must be a Point with [longitude, latitude]"
        try:
            cells["lon"], cells["lat"] = repr(float(coords[0])), repr(float(coords[1]))
        except OverflowError:  # an integer of hundreds of digits
            return "has a coordinate out of range"
        return ""
    if g is not None:
        cells["geometry"] = json.dumps(g)
    return ""


# ----------------------------------------------------------------------------- checking cells
@cache
def _values(enum: type[StrEnum]) -> frozenset[str]:
    return frozenset(e.value for e in enum)


class RowReader:
    """Reads typed values from one row's cells, appending a :class:`RowError` per bad cell."""

    __slots__ = ("bad", "cells", "errors", "line")

    def __init__(self, line: int, cells: dict[str, str], errors: list[RowError]) -> None:
        self.line = line
        self.cells = cells
        self.errors = errors
        self.bad = False

    def has(self, f: str) -> bool:
        """True if the row gives column ``f`` (possibly empty)."""
        return f in self.cells

    def err(self, f: str, reason: str, *, hidden: bool = False) -> None:
        self.errors.append(RowError(self.line, f, reason, hidden))
        self.bad = True

    def text(self, f: str, *, required: bool = False, max_len: int = 200) -> str:
        v = self.cells.get(f, "")
        if required and not v:
            self.err(f, "is required")
        elif len(v) > max_len:
            self.err(f, f"is {len(v)} characters long; at most {max_len}")
        return v

    def number(self, f: str, lo: float, hi: float, default: float | None = None, *,
               integer: bool = False, hi_open: bool = False) -> Any:
        v = self.cells.get(f, "")
        if not v:
            if default is None:
                self.err(f, "is required")
            return default
        try:
            x: float = int(v) if integer else float(v)
        except ValueError:
            self.err(f, f"{v!r} is not {'a whole number' if integer else 'a number'}")
            return default
        if not math.isfinite(x) or x < lo or x > hi or (hi_open and x == hi):
            self.err(f, f"{v} is out of range {lo:g} to {hi:g}{' (exclusive)' if hi_open else ''}")
            return default
        return x

    def choice(self, f: str, enum: type[StrEnum], default: str) -> str:
        v = self.cells.get(f, "")
        if not v:
            return default
        if v in _values(enum):
            return v
        key = v.strip().lower().replace(" ", "_").replace("-", "_")
        try:
            return enum(key).value
        except ValueError:
            self.err(f, f"{v!r} is not one of {', '.join(e.value for e in enum)}")
            return default

    def flag(self, f: str, default: bool) -> bool:
        v = self.cells.get(f, "").lower()
        if not v:
            return default
        if v in ("true", "yes", "1", "y"):
            return True
        if v in ("false", "no", "0", "n"):
            return False
        self.err(f, f"{v!r} is not true/false")
        return default

    def in_scope(self, f: str, code: str, scope: Scope) -> None:
        """A row error unless region ``code`` is in ``scope`` (asked of the guard)."""
        if code and not region_visible(scope, code):
            self.err(f, f"region {code} not found", hidden=True)


def check_rows(rows: Rows, progress: Progress | None,
               check: Callable[[RowReader], dict[str, Any] | None]) -> list[tuple[int, dict[str, Any]]]:
    """Run ``check`` on every row; return ``(line, values)`` of the good ones. Errors stay in ``rows``."""
    return list(checked(rows, progress, check))


def checked(rows: Rows, progress: Progress | None, check: Callable[[RowReader], dict[str, Any] | None],
            on_bad: Callable[[dict[str, Any] | None], None] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Run ``check`` on every row as it is read; yield ``(line, values)`` of the good ones (``on_bad`` sees the rest)."""
    n = rows.items.hint if isinstance(rows.items, RowStream) else len(rows.items)
    i = 0
    for i, (line, cells) in enumerate(rows.items, start=1):
        r = RowReader(line, cells, rows.errors)
        values = check(r)
        if values is not None and not r.bad:
            yield line, values
        elif on_bad:
            on_bad(values)
        if progress and i % 2000 == 0:
            progress("check", i, max(n, i))
    if progress:
        progress("check", i, i)


def reject_if_bad(rows: Rows) -> None:
    """Raise :class:`ImportRejected` with every row error, sorted by line.

    If a row names an object outside the importer's scope, it is :class:`ImportNotFound` (404): the
    same answer as for any other request about an object the caller may not see. If a row would change
    a shared object the caller may not change, it is :class:`ImportDenied` (403).
    """
    if rows.errors:
        errors = sorted(rows.errors, key=lambda e: e.line)
        cls = ImportNotFound if any(e.hidden for e in errors) else (
            ImportDenied if any(e.denied for e in errors) else ImportRejected)
        raise cls(errors, rows.source)


# ----------------------------------------------------------------------------- planning and writing
@dataclass(slots=True)
class Plan:
    """Rows to insert and to update, and how many were unchanged."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    flushed_inserts: int = 0
    flushed_updates: int = 0

    @property
    def created(self) -> int:
        return self.flushed_inserts + len(self.inserts)

    @property
    def updated(self) -> int:
        return self.flushed_updates + len(self.updates)

    def flush(self, session: Session, table: Table, key: str, *, dry_run: bool, at: int = _BATCH) -> None:
        """Write the planned rows once ``at`` of them are waiting (nothing on a dry run), then forget them."""
        if len(self.inserts) + len(self.updates) < at:
            return
        if not dry_run:
            write(session, table, key, self, None)
        self.flushed_inserts += len(self.inserts)
        self.flushed_updates += len(self.updates)
        self.inserts.clear()
        self.updates.clear()

    def merge(self, existing: dict[str, Any] | None, values: dict[str, Any], defaults: dict[str, Any]) -> None:
        """Plan ``values`` against the ``existing`` stored row (``None`` for a new one)."""
        if existing is None:
            self.inserts.append(defaults | values)
        elif any(existing.get(k) != v for k, v in values.items()):
            self.updates.append(existing | values)
        else:
            self.unchanged += 1


def table_of(model: type[Any]) -> Table:
    """The Core table of a mapped class (declarative classes type ``__table__`` as any ``FromClause``)."""
    return cast(Table, model.__table__)


def write(session: Session, table: Table, key: str, plan: Plan, progress: Progress | None) -> None:
    """Insert and update in batches with Core executemany; updates are matched on ``key``."""
    try:
        _write(session, table, key, plan, progress)
    except IntegrityError as exc:
        raise ConflictError(f"{table.name} changed while this import ran ({str(exc.orig).splitlines()[0]}); "
                            "nothing was stored: run the import again") from None


def _write(session: Session, table: Table, key: str, plan: Plan, progress: Progress | None) -> None:
    total = len(plan.inserts) + len(plan.updates)
    done = 0
    for i in range(0, len(plan.inserts), _BATCH):
        chunk = plan.inserts[i:i + _BATCH]
        session.execute(insert(table), chunk)
        done += len(chunk)
        if progress:
            progress("write", done, total)
    if plan.updates:
        cols = sorted({k for row in plan.updates for k in row} - {key})
        stmt = update(table).where(table.c[key] == bindparam("k_" + key)).values(
            {c: bindparam("v_" + c) for c in cols})
        for i in range(0, len(plan.updates), _BATCH):
            chunk = [{"k_" + key: r[key], **{"v_" + c: r.get(c) for c in cols}}
                     for r in plan.updates[i:i + _BATCH]]
            session.execute(stmt, chunk)
            done += len(chunk)
            if progress:
                progress("write", done, total)


def common_region(codes: Iterable[str]) -> str | None:
    """The smallest region subtree holding every code in ``codes`` (``None`` if none or no common one)."""
    codes = [c for c in codes if c]
    if not codes:
        return None
    prefix = os.path.commonprefix(codes)
    return next((prefix[:n] for n in (11, 8, 6, 4) if len(prefix) >= n), None)


def finish(session: Session, kind: str, rows: Rows, plan: Plan, *, actor: str, dry_run: bool,
           t0: float, generated: int = 0, regions: Iterable[str] = ()) -> ImportReport:
    """Audit (once per import, not per row; filed under the region holding all ``regions``) and report."""
    rep = ImportReport(kind=kind, source=rows.source, rows=len(rows.items), created=plan.created,
                       updated=plan.updated, unchanged=plan.unchanged, dry_run=dry_run,
                       seconds=round(time.perf_counter() - t0, 3), generated_ids=generated)
    if not dry_run:
        record(session, actor, f"{kind}.import", f"import:{kind}", region=common_region(regions),
               source=rows.source, rows=rep.rows,
               created=rep.created, updated=rep.updated, unchanged=rep.unchanged)
    return rep
