"""The time series tables: native range partitions on PostgreSQL, retention by dropping whole partitions.

The tables that grow with cameras × time (:data:`SERIES`) are, on PostgreSQL, declaratively
partitioned by range of their time column: by month, or by day for recording segments. A
``<table>_default`` partition catches a row whose time has no partition yet (a camera with a
wrong clock), so an insert never fails; the partition for that time, when it is created, takes
its rows over. :func:`maintain` (run by the elected scheduler, or by ``vigil serve --role all``)
creates the partitions ahead of time and applies the retention:

* PostgreSQL: a partition that lies wholly before ``now - keep`` is dropped (``DROP TABLE``, no
  row-by-row ``DELETE``, no vacuum debt); only the default partition's old rows are deleted.
* SQLite (tables stay plain): ``DELETE ... WHERE time < cutoff``.

Status and quality changes are step functions: the state at a period's start is each camera's
last change before it. Before old rows go, each camera's last one is therefore *moved* to the
first kept instant (same row and id, values unchanged), so the KPIs of every kept period stay exact.

On PostgreSQL the primary key and unique constraints of a partitioned table must contain the
partition column, so they become ``(id, ts)``, ``(uid, start)``, ``(path, start)``; ids still come
from one sequence, so they stay unique. The ORM keeps ``id`` as its identity. The writer's inbox
(``worker_inbox``) stays a plain table on purpose: its primary key ``msg_id`` alone is what makes
a redelivered message a no-op, which a partitioned table could only enforce per partition.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, func, literal, select, text, update

from vigil.access.audit import record
from vigil.core.db import Database, serialize
from vigil.core.errors import InputError
from vigil.core.models import utcnow
from vigil.core.periodic import Periodic

__all__ = ["SERIES", "KEEP_ENV", "Maintenance", "MaintenanceReport", "Partition", "Series",
           "SeriesState", "apply_retention", "carry_forward", "convert_table", "describe", "ensure_partitions", "is_partitioned", "keep_days",
           "maintain", "partitions", "revert_table", "span"]

log = logging.getLogger("vigil.core.timeseries")

KEEP_ENV = "VIGIL_TIMESERIES_KEEP"
Unit = Literal["month", "day"]


@dataclass(frozen=True)
class Series:
    """One time series table: its time column, partition unit and default retention (None: kept)."""

    table: str
    column: str
    unit: Unit
    keep_days: float | None
    carry: bool = False
    """Move each camera's last row forward to the first kept instant before dropping older ones."""
    empty_only: bool = False
    """Drop only emptied past partitions: the rows go one by one with their files (video retention)."""


SERIES: tuple[Series, ...] = (
    Series("status_changes", "ts", "month", 400.0, carry=True),
    Series("quality_changes", "ts", "month", 400.0, carry=True),
    Series("events", "start", "month", 180.0),
    Series("recording_segments", "start", "day", None, empty_only=True),
    Series("audit_log", "ts", "month", None),  # the keyed chain is verified from entry 1: never dropped
)
AHEAD = {"month": 3, "day": 7}
"""Partitions created beyond the current one (3 months, 7 days): weeks of slack if maintenance stops."""
_BACK = {"month": 36, "day": 120}  # a converted table gets partitions this far back; older rows: default
_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class Partition:
    """One range partition: ``[lo, hi)``."""

    name: str
    lo: datetime
    hi: datetime


@dataclass
class MaintenanceReport:
    """What :func:`maintain` did: partitions created and dropped, rows deleted and carried forward."""

    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    deleted: int = 0
    carried: int = 0
    carry_s: float = 0.0
    """Seconds spent carrying rows forward, and removing old rows (drops and deletes)."""
    remove_s: float = 0.0


def span(unit: Unit, t: datetime) -> tuple[datetime, datetime]:
    """The ``[lo, hi)`` of the ``unit`` (UTC month or day) that contains ``t``."""
    t = t.astimezone(UTC)
    if unit == "day":
        lo = t.replace(hour=0, minute=0, second=0, microsecond=0)
        return lo, lo + timedelta(days=1)
    lo = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return lo, (lo.replace(year=lo.year + 1, month=1) if lo.month == 12 else lo.replace(month=lo.month + 1))


def _name(spec: Series, lo: datetime) -> str:
    return f"{spec.table}_p{lo:%Y%m}" if spec.unit == "month" else f"{spec.table}_p{lo:%Y%m%d}"


def _default(spec: Series) -> str:
    return f"{spec.table}_default"


def _pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def is_partitioned(conn: Connection, table: str) -> bool:
    """True if ``table`` is a partitioned table (PostgreSQL only; SQLite tables never are)."""
    if not _pg(conn):
        return False
    kind = conn.execute(text("SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(:t)"), {"t": table}).scalar()
    return kind == "p"


def partitions(conn: Connection, spec: Series) -> list[Partition]:
    """The range partitions of ``spec.table`` in time order (the default partition is not listed)."""
    rows = conn.execute(text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c "
        "ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:t)"), {"t": spec.table}).all()
    out = []
    for name, bound in rows:
        m = _BOUND.search(bound or "")
        if m:
            out.append(Partition(name, *(datetime.fromisoformat(v).astimezone(UTC) for v in m.groups())))
    return sorted(out, key=lambda p: p.lo)


def _create(conn: Connection, spec: Series, lo: datetime, hi: datetime) -> str:
    """Create the partition ``[lo, hi)``, taking over the default partition's rows in that range."""
    t, col, name, dflt = spec.table, spec.column, _name(spec, lo), _default(spec)
    rng = {"lo": lo, "hi": hi}
    moving = conn.execute(text(f'SELECT EXISTS (SELECT 1 FROM "{dflt}" WHERE "{col}" >= :lo AND "{col}" < :hi)'),
                          rng).scalar()
    if moving:  # a partition may not be created over rows the default holds: lift them out and back
        conn.execute(text(f'CREATE TEMP TABLE vigil_moving (LIKE "{t}") ON COMMIT DROP'))
        conn.execute(text(f'WITH d AS (DELETE FROM "{dflt}" WHERE "{col}" >= :lo AND "{col}" < :hi RETURNING *) '
                          'INSERT INTO vigil_moving SELECT * FROM d'), rng)
    conn.execute(text(f"CREATE TABLE \"{name}\" PARTITION OF \"{t}\" FOR VALUES FROM ('{lo.isoformat()}') "
                      f"TO ('{hi.isoformat()}')"))
    if moving:
        conn.execute(text(f'INSERT INTO "{t}" SELECT * FROM vigil_moving'))
        conn.execute(text("DROP TABLE vigil_moving"))
    return name


def ensure_partitions(conn: Connection, spec: Series, *, now: datetime, since: datetime | None = None,
                      ahead: int | None = None) -> list[str]:
    """Create the missing partitions from ``since`` (default: now) to ``ahead`` (:data:`AHEAD`) units past now."""
    if not is_partitioned(conn, spec.table):
        return []
    have = {p.lo for p in partitions(conn, spec)}
    lo, _ = span(spec.unit, since or now)
    end = span(spec.unit, now)[0]
    for _ in range(AHEAD[spec.unit] if ahead is None else ahead):
        end = span(spec.unit, end)[1]
    created = []
    while lo <= end:
        hi = span(spec.unit, lo)[1]
        if lo not in have:
            created.append(_create(conn, spec, lo, hi))
        lo = hi
    return created


def _carry(conn: Connection, spec: Series, at: datetime) -> int:
    """Move each camera's last row before ``at`` to ``at`` (unless it has a row there): the state stays known.

    The row keeps its id, so nothing that follows the table by id (federation) sees a new change.
    """
    if _pg(conn):
        return carry_forward(conn, spec.table, spec.column, at)
    from vigil.core.schema import metadata

    tbl = metadata.tables[spec.table]
    when = tbl.c[spec.column]
    rn = func.row_number().over(partition_by=tbl.c.camera_id, order_by=(when.desc(), tbl.c.id.desc()))
    sub = select(tbl.c.id, tbl.c.camera_id, rn.label("rn")).where(when < at).subquery()
    there = tbl.alias("there")
    taken = select(literal(1)).where(there.c.camera_id == sub.c.camera_id, there.c[spec.column] == at).exists()
    last = select(sub.c.id).where(sub.c.rn == 1, ~taken)
    stmt = update(tbl).where(tbl.c.id.in_(last)).values({spec.column: at}).returning(tbl.c.id)
    return len(conn.execute(stmt).all())


def carry_forward(conn: Connection, table: str, column: str, at: datetime) -> int:
    """PostgreSQL: move each camera's last row of ``table`` before ``at`` to ``at``; the rows moved.

    One index probe per camera on ``(camera_id, column)`` instead of sorting every old row; on a
    partitioned table the row moves to the partition of ``at``.
    """
    return len(conn.execute(text(
        f'UPDATE "{table}" SET "{column}" = :at WHERE "{column}" < :at AND id IN (SELECT l.id FROM cameras c '
        f'CROSS JOIN LATERAL (SELECT id FROM "{table}" WHERE camera_id = c.id AND "{column}" < :at '
        f'ORDER BY "{column}" DESC, id DESC LIMIT 1) l WHERE NOT EXISTS (SELECT 1 FROM "{table}" x '
        f'WHERE x.camera_id = c.id AND x."{column}" = :at)) RETURNING id'), {"at": at}).all())


def _retain_partitioned(conn: Connection, spec: Series, *, now: datetime, keep: float | None,
                        report: MaintenanceReport) -> None:
    """Drop the partitions wholly before the boundary (the start of the unit holding ``now - keep``)."""
    parts = partitions(conn, spec)
    if spec.empty_only:
        today = span(spec.unit, now)[0]
        for p in parts:
            if p.hi <= today and conn.execute(text(f'SELECT NOT EXISTS (SELECT 1 FROM "{p.name}")')).scalar():
                conn.execute(text(f'DROP TABLE "{p.name}"'))
                report.dropped.append(p.name)
        return
    if keep is None:
        return
    at, dflt, col = span(spec.unit, now - timedelta(days=keep))[0], _default(spec), spec.column
    old = [p for p in parts if p.hi <= at]
    stale = conn.execute(text(f'SELECT EXISTS (SELECT 1 FROM "{dflt}" WHERE "{col}" < :at)'), {"at": at}).scalar()
    if not old and not stale:
        return
    t0 = time.perf_counter()
    if spec.carry:
        report.carried += _carry(conn, spec, at)
    t1 = time.perf_counter()
    for p in old:
        conn.execute(text(f'DROP TABLE "{p.name}"'))
        report.dropped.append(p.name)
    res = conn.execute(text(f'DELETE FROM "{dflt}" WHERE "{col}" < :at'), {"at": at})
    report.deleted += int(res.rowcount or 0)
    report.carry_s, report.remove_s = report.carry_s + t1 - t0, report.remove_s + time.perf_counter() - t1


def apply_retention(conn: Connection, spec: Series, *, now: datetime, keep: float | None,
                    report: MaintenanceReport) -> None:
    """Forget the units (months, days) wholly older than ``keep`` days: drop partitions on PostgreSQL, else ``DELETE``.

    The boundary is the start of the unit that holds ``now - keep``, on both databases.
    """
    col = spec.column
    if is_partitioned(conn, spec.table):
        _retain_partitioned(conn, spec, now=now, keep=keep, report=report)
        return
    if keep is None or spec.empty_only:
        return
    from vigil.core.schema import metadata

    tbl = metadata.tables[spec.table]
    at = span(spec.unit, now - timedelta(days=keep))[0]  # whole units, as the partitions: one carry a month
    if conn.execute(select(tbl.c[col]).where(tbl.c[col] < at).limit(1)).first() is None:
        return
    t0 = time.perf_counter()
    if spec.carry:
        report.carried += _carry(conn, spec, at)
    t1 = time.perf_counter()
    res = conn.execute(tbl.delete().where(tbl.c[col] < at))
    report.deleted += int(res.rowcount or 0)
    report.carry_s, report.remove_s = report.carry_s + t1 - t0, report.remove_s + time.perf_counter() - t1


def convert_table(conn: Connection, spec: Series, *, now: datetime) -> bool:
    """Turn the plain PostgreSQL table ``spec.table`` into a partitioned one with the same rows (a migration).

    Columns, defaults and sequences are kept; the primary key and unique constraints gain the
    partition column; foreign keys, checks and indexes are rebuilt on the new parent (and so on
    every partition). Partitions are made from the oldest row to the current unit; :func:`maintain`
    adds the ones ahead. False (nothing done) on SQLite and for a table already partitioned.
    """
    if not _pg(conn) or is_partitioned(conn, spec.table):
        return False
    t, col, old = spec.table, spec.column, f"{spec.table}_unpartitioned"
    cons, idx, seqs = _structure(conn, t)
    first = conn.execute(text(f'SELECT min("{col}") FROM "{t}"')).scalar()
    conn.execute(text(f'ALTER TABLE "{t}" RENAME TO "{old}"'))
    conn.execute(text(f'CREATE TABLE "{t}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMMENTS) '
                      f'PARTITION BY RANGE ("{col}")'))
    conn.execute(text(f'CREATE TABLE "{_default(spec)}" PARTITION OF "{t}" DEFAULT'))
    back = now
    for _ in range(_BACK[spec.unit]):
        back = span(spec.unit, back)[0] - timedelta(microseconds=1)
    # up to the current unit only: the maintenance (at the scheduler's start) makes the ones ahead
    ensure_partitions(conn, spec, now=now, since=max(first, back) if first is not None else now, ahead=0)
    conn.execute(text(f'INSERT INTO "{t}" SELECT * FROM "{old}"'))
    _own_and_drop(conn, t, old, seqs)
    for name, kind, definition in cons:
        if kind in ("p", "u"):
            definition = re.sub(r"\)\s*$", f', "{col}")', definition, count=1)
        conn.execute(text(f'ALTER TABLE "{t}" ADD CONSTRAINT "{name}" {definition}'))
    for d in idx:
        if d.startswith("CREATE UNIQUE INDEX"):
            d = re.sub(r"\)\s*$", f', "{col}")', d, count=1)
        conn.execute(text(d))
    return True


def revert_table(conn: Connection, spec: Series) -> bool:
    """Undo :func:`convert_table`: the same rows in one plain table, keys without the time column."""
    if not is_partitioned(conn, spec.table):
        return False
    t, col, old = spec.table, spec.column, f"{spec.table}_partitioned"
    cons, idx, seqs = _structure(conn, t)
    conn.execute(text(f'ALTER TABLE "{t}" RENAME TO "{old}"'))
    conn.execute(text(f'CREATE TABLE "{t}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMMENTS)'))
    conn.execute(text(f'INSERT INTO "{t}" SELECT * FROM "{old}"'))
    _own_and_drop(conn, t, old, seqs)
    drop_col = re.compile(rf',\s*"?{col}"?\)\s*$')
    for name, kind, definition in cons:
        if kind in ("p", "u"):
            definition = drop_col.sub(")", definition)
        conn.execute(text(f'ALTER TABLE "{t}" ADD CONSTRAINT "{name}" {definition}'))
    for d in idx:
        conn.execute(text(drop_col.sub(")", d) if d.startswith("CREATE UNIQUE INDEX") else d))
    return True


def _structure(conn: Connection, t: str) -> tuple[list[Any], list[str], list[Any]]:
    """(constraints, other index definitions, serial sequences) of table ``t``, to rebuild it."""
    q = {"t": t}
    cons = conn.execute(text("SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                             "WHERE conrelid = to_regclass(:t) AND coninhcount = 0 ORDER BY contype DESC"), q).all()
    idx = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = :t "
                            "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:t))"),
                       q).scalars().all()
    seqs = conn.execute(text("SELECT attname, pg_get_serial_sequence(:t, attname) FROM pg_attribute "
                             "WHERE attrelid = to_regclass(:t) AND attnum > 0 AND NOT attisdropped"), q).all()
    return list(cons), list(idx), [r for r in seqs if r[1]]


def _own_and_drop(conn: Connection, t: str, old: str, seqs: list[Any]) -> None:
    for name, seq in seqs:  # the sequences move to the new table before the old one (their owner) goes
        conn.execute(text(f'ALTER SEQUENCE {seq} OWNED BY "{t}"."{name}"'))
    conn.execute(text(f'DROP TABLE "{old}"'))


def keep_days(value: str | None) -> dict[str, float | None]:
    """Retention per table: the defaults of :data:`SERIES`, overridden by ``table=days`` pairs (``keep``: never).

    ``value`` is e.g. ``"events=90,status_changes=730"`` (``VIGIL_TIMESERIES_KEEP``).
    """
    keep = {s.table: s.keep_days for s in SERIES}
    for item in filter(None, (p.strip() for p in (value or "").split(","))):
        table, _, days = item.partition("=")
        table = table.strip()
        if table not in keep:
            raise InputError(f"{KEEP_ENV}: unknown time series {table!r}; known: {', '.join(keep)}")
        if days.strip() == "keep":
            keep[table] = None
            continue
        try:
            n = float(days)
        except ValueError:
            raise InputError(f"{KEEP_ENV}: {table} needs a number of days or 'keep', not {days.strip()!r}") from None
        if not 1 <= n <= 36500:
            raise InputError(f"{KEEP_ENV}: {table} must keep between 1 and 36500 days, not {days.strip()}")
        keep[table] = n
    return keep


def maintain(db: Database, *, now: datetime | None = None,
             keep: dict[str, float | None] | None = None) -> MaintenanceReport:
    """Create the partitions ahead of time and apply the retention: one short transaction per table.

    Safe to run from two nodes at once (an advisory lock serialises it); a lock that is not had
    within 5 s gives up this round rather than stall the writers.
    """
    now = now or utcnow()
    keep = keep if keep is not None else keep_days(os.environ.get(KEEP_ENV))
    rep = MaintenanceReport()
    for spec in SERIES:
        with db.session() as s:
            conn = s.connection()
            if _pg(conn):
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))
            serialize(s, "vigil.timeseries")
            rep.created += ensure_partitions(conn, spec, now=now)
            mine = MaintenanceReport()
            apply_retention(conn, spec, now=now, keep=keep.get(spec.table), report=mine)
            if mine.dropped or mine.deleted:  # forgetting records is itself on the record
                record(s, "system", "timeseries.retention", spec.table, dropped=mine.dropped, deleted=mine.deleted,
                       carried=mine.carried, keep_days=keep.get(spec.table))
            rep.dropped += mine.dropped
            rep.deleted, rep.carried = rep.deleted + mine.deleted, rep.carried + mine.carried
            rep.carry_s, rep.remove_s = rep.carry_s + mine.carry_s, rep.remove_s + mine.remove_s
    return rep


@dataclass(frozen=True)
class SeriesState:
    """One time series as :func:`describe` sees it."""

    table: str
    unit: Unit
    partitioned: bool
    partitions: int
    first: datetime | None
    last: datetime | None
    in_default: int
    keep_days: float | None


def describe(db: Database, *, keep: dict[str, float | None] | None = None) -> list[SeriesState]:
    """The time series: partitions (PostgreSQL), the range they cover, rows waiting in the default, retention."""
    keep = keep if keep is not None else keep_days(os.environ.get(KEEP_ENV))
    out = []
    with db.session() as s:
        conn = s.connection()
        for spec in SERIES:
            if is_partitioned(conn, spec.table):
                parts = partitions(conn, spec)
                waiting = int(conn.execute(text(f'SELECT count(*) FROM "{_default(spec)}"')).scalar() or 0)
                out.append(SeriesState(spec.table, spec.unit, True, len(parts), parts[0].lo if parts else None,
                                       parts[-1].hi if parts else None, waiting, keep.get(spec.table)))
            else:
                out.append(SeriesState(spec.table, spec.unit, False, 0, None, None, 0, keep.get(spec.table)))
    return out


class Maintenance:
    """Runs :func:`maintain` every ``interval`` seconds (the scheduler's, or ``--role all``'s, service)."""

    def __init__(self, db: Database, *, interval: float = 3600.0, keep: dict[str, Any] | None = None) -> None:
        self.db = db
        self.keep = keep
        self.last: MaintenanceReport | None = None
        self._loop = Periodic(self.run_once, interval=interval, name="vigil-timeseries")

    def run_once(self) -> MaintenanceReport:
        """One round (in a worker thread); a failure is logged and the next round retries."""
        self.last = rep = maintain(self.db, keep=self.keep)
        if rep.created or rep.dropped:
            log.info("time series: created %s, dropped %s", rep.created, rep.dropped)
        return rep

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
