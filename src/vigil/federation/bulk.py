"""Bulk inserts for the feed: one driver-level ``executemany`` per table instead of SQLAlchemy's per-row work.

A catalog page writes thousands of rows into a few tables (cameras, their links, states, history, the
change log). SQLAlchemy's Core ``executemany`` builds and type-processes a parameter dictionary per row,
which costs more than SQLite's own insert. On SQLite :func:`insert_rows` binds each column through the
column type's own bind processor (the same stored format) and fills Python-side defaults once per call;
on other databases it is Core ``insert`` in chunks (psycopg batches those itself).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Dialect, Table, insert
from sqlalchemy.orm import Session

from vigil.core.models import UTCDateTime

__all__ = ["insert_rows"]

_CHUNK = 1000


def _default(col: Column[Any]) -> tuple[bool, Any]:
    d = col.default
    if d is None or col.primary_key and col.autoincrement in (True, "auto"):
        return False, None
    if getattr(d, "is_scalar", False):
        return True, d.arg  # type: ignore[attr-defined]
    if getattr(d, "is_callable", False):
        return True, d.arg(None)  # type: ignore[attr-defined]  # SQLAlchemy wraps it to take a context
    return False, None


def _utc_text(v: datetime | None) -> str | None:
    """What :class:`UTCDateTime` stores on SQLite (naive UTC, SQLAlchemy's text format), without its two layers."""
    if v is None:
        return None
    if v.tzinfo is not UTC:
        if v.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        v = v.astimezone(UTC)
    return v.replace(tzinfo=None).isoformat(" ", "microseconds")


def _json_text(v: Any) -> str | None:
    """What a JSON column stores (``json.dumps``), with the empty list and object short-cut."""
    if v is None:
        return None
    return "[]" if v == [] else "{}" if v == {} else json.dumps(v)


def _processor(col: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    if isinstance(col.type, UTCDateTime):
        return _utc_text
    if isinstance(col.type, JSON):
        return _json_text
    return col.type.dialect_impl(dialect).bind_processor(dialect)


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in this session's transaction."""
    if not rows:
        return
    if not session._flushing:  # noqa: SLF001 - called from a flush listener, the flush is under way
        session.flush()  # rows added through the ORM (a region, a site) first: the driver does not autoflush
    conn = session.connection()
    dialect = conn.dialect
    if dialect.name != "sqlite":
        for i in range(0, len(rows), _CHUNK):
            session.execute(insert(table), list(rows[i:i + _CHUNK]))
        return
    given = list(rows[0])
    fixed = {c.name: v for c in table.c if c.name not in rows[0] for ok, v in [_default(c)] if ok}
    names = given + list(fixed)
    procs = [_processor(table.c[n], dialect) for n in names]
    consts = [fixed[n] for n in fixed]
    consts = [p(v) if p else v for p, v in zip(procs[len(given):], consts, strict=True)]
    head = procs[:len(given)]
    sql = (f'INSERT INTO "{table.name}" ({", ".join(chr(34) + n + chr(34) for n in names)}) '
           f'VALUES ({", ".join("?" * len(names))})')
    params = [tuple([p(r[n]) if p else r[n] for n, p in zip(given, head, strict=True)] + consts) for r in rows]
    conn.exec_driver_sql(sql, params)  # type: ignore[arg-type]
