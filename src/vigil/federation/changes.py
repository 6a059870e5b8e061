"""The change log: every write to a region, site or camera leaves a ``(kind, key)`` entry.

The registry knows nothing of this: :func:`install` registers two session listeners once per
process (federation may import the registry, never the reverse):

* ``before_flush`` sees ORM objects added, changed or deleted;
* ``do_orm_execute`` sees bulk ``insert``/``update``/``delete`` statements that carry their keys in
  their parameters (imports, simulator registration) or an ``id IN (...)`` / ``id = ...`` filter.

Entries name keys only: the publisher reads each key's *current* state when it publishes, so an
entry is never stale and a deleted or un-shared object goes out as a delete. Status and quality
changes are copied into the log by :func:`sweep_status` (their rows are immutable). Coverage rows are
swept the same way, but they can be deleted (one by one, in bulk, or with their plan): a delete logs
the rows' ids so the publisher sends them as deletes, and rewinds the sweep below them (SQLite may give
a deleted newest id to the next row).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, delete, event, func, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from vigil.core.models import Camera, Region, Site, utcnow
from vigil.coverage.models import PlanRecord, SiteCoverage
from vigil.federation.bulk import insert_rows
from vigil.federation.models import ChangeKind, FedChange, FedState
from vigil.health.models import QualityChange, StatusChange, WorkOrder

__all__ = ["install", "log_changes", "prune", "restart_sweep", "sweep_status"]

_TABLES = {"regions": (ChangeKind.REGION, "code"), "sites": (ChangeKind.SITE, "id"),
           "cameras": (ChangeKind.CAMERA, "id"), "work_orders": (ChangeKind.REPAIR, "id")}
_MODELS = {Region: (ChangeKind.REGION, "code"), Site: (ChangeKind.SITE, "id"), Camera: (ChangeKind.CAMERA, "id"),
           WorkOrder: (ChangeKind.REPAIR, "id")}
# append-only rows copied into the log by id (their inserts are bulk and carry no keys)
_SWEPT = (("status", StatusChange, ChangeKind.STATUS), ("quality", QualityChange, ChangeKind.QUALITY),
          ("coverage", SiteCoverage, ChangeKind.COVERAGE))
_T_CHANGES = cast(Table, FedChange.__table__)
_SKIP = "fed_no_log"  # session.info flag: this session logs its own changes
_installed = False


def log_changes(session: Session, kind: str, keys: Iterable[Any]) -> None:
    """Append one entry per key (in order). On PostgreSQL appends are serialised, so seq order is commit order."""
    now, kind = utcnow(), str(kind)
    rows: list[dict[str, Any]] = [{"kind": kind, "key": str(k), "ts": now} for k in keys]
    if not rows:
        return
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(7_283_001)))
    insert_rows(session, _T_CHANGES, rows)
    if kind == ChangeKind.COVERAGE:  # a deleted id may come back (SQLite): sweep again from below it
        below = min(int(r["key"]) for r in rows) - 1
        session.execute(update(FedState).where(FedState.name == "coverage", FedState.value > below)
                        .values(value=below).execution_options(synchronize_session=False))


def _doomed_coverage(session: Session, table: str, where: Any) -> list[int]:
    """The coverage rows a delete from ``table`` (``site_coverage`` or ``plans``, which cascades) removes."""
    with session.no_autoflush:
        if table == "plans":
            plans = select(PlanRecord.id) if where is None else select(PlanRecord.id).where(where)
            return list(session.scalars(select(SiteCoverage.id).where(SiteCoverage.plan_id.in_(plans))))
        q = select(SiteCoverage.id)
        return list(session.scalars(q if where is None else q.where(where)))


def _before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    if session.info.get(_SKIP):
        return
    pending: list[tuple[str, Any]] = []
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        spec = _MODELS.get(type(obj))
        if spec is None or (obj in session.dirty and not session.is_modified(obj)):
            continue
        pending.append((spec[0], obj))
    for obj in session.deleted:  # coverage inserts are swept; its deletes are logged here
        if isinstance(obj, SiteCoverage) and obj.id is not None:
            pending.append((ChangeKind.COVERAGE, obj.id))
        elif isinstance(obj, PlanRecord) and obj.id is not None:
            doomed = _doomed_coverage(session, "plans", PlanRecord.id == obj.id)
            pending += [(ChangeKind.COVERAGE, i) for i in doomed]
    if pending:
        session.info.setdefault("fed_pending", []).extend(pending)


def _after_flush(session: Session, _ctx: Any) -> None:
    pending = session.info.pop("fed_pending", None)
    if not pending:
        return
    session.info[_SKIP] = True  # our own insert must not be logged again
    try:
        for kind, obj in pending:
            key = obj if isinstance(obj, int) else obj.code if kind == ChangeKind.REGION else obj.id
            if key is not None:
                log_changes(session, kind, [key])
    finally:
        session.info.pop(_SKIP, None)


def _keys_from_statement(state: ORMExecuteState, key: str) -> list[Any]:
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if params else []
    keys = [r.get(key, r.get("k_" + key)) for r in rows if isinstance(r, dict)]
    keys = [k for k in keys if k is not None]
    if keys:
        return keys
    crit = getattr(state.statement, "whereclause", None)
    if crit is None:
        return []
    right = getattr(crit, "right", None)
    if getattr(getattr(crit, "left", None), "key", None) != key or right is None:
        return []
    value = getattr(right, "value", None)
    if value is None and hasattr(right, "effective_value"):
        value = right.effective_value
    return list(value) if isinstance(value, list | tuple) else [value] if value is not None else []


def _on_execute(state: ORMExecuteState) -> None:
    if state.session.info.get(_SKIP) or not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", "")
    if state.is_delete and name in ("site_coverage", "plans"):
        doomed = _doomed_coverage(state.session, name, getattr(state.statement, "whereclause", None))
        if doomed:
            state.session.info.setdefault("fed_bulk", []).append((ChangeKind.COVERAGE, doomed))
        return
    spec = _TABLES.get(name)
    if spec is None:
        return
    keys = _keys_from_statement(state, spec[1])
    if keys:
        state.session.info.setdefault("fed_bulk", []).append((spec[0], keys))


def _after_bulk(session: Session, *_: Any) -> None:
    bulk = session.info.pop("fed_bulk", None)
    if not bulk:
        return
    session.flush()  # ORM changes pending beside the bulk statements are logged by their own listener first
    session.info[_SKIP] = True
    try:
        for kind, keys in bulk:
            log_changes(session, kind, keys)
    finally:
        session.info.pop(_SKIP, None)


def _before_commit(session: Session) -> None:
    _after_bulk(session)


def install() -> None:
    """Register the listeners on every ORM session of this process (idempotent)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _on_execute)
    event.listen(Session, "before_commit", _before_commit)
    _installed = True


def _cursor(session: Session, name: str) -> int:
    row = session.get(FedState, name)
    return row.value if row else 0


def _set_cursor(session: Session, name: str, value: int) -> None:
    row = session.get(FedState, name)
    if row is None:
        session.add(FedState(name=name, value=value))
    else:
        row.value = value


def sweep_status(session: Session) -> int:
    """Copy status, quality and coverage rows newer than the last sweep into the log; return how many."""
    n = 0
    for name, model, kind in _SWEPT:
        last = _cursor(session, name)
        ids = list(session.scalars(select(model.id).where(model.id > last).order_by(model.id).limit(50_000)))
        if ids:
            log_changes(session, kind, ids)
            _set_cursor(session, name, ids[-1])
            n += len(ids)
    return n


def prune(session: Session, upto: int | None = None) -> int:
    """Drop log entries before ``upto`` (default: all but the newest).

    The newest entry is always kept, so that on SQLite sequence numbers never restart below what a parent
    has seen.
    """
    newest = session.scalar(select(func.max(FedChange.seq))) or 0
    upto = newest if upto is None else min(upto, newest)
    res = session.execute(delete(FedChange).where(FedChange.seq < upto))
    return int(getattr(res, "rowcount", 0) or 0)


def restart_sweep(session: Session) -> None:
    """Copy the whole status and quality history again (a new parent gets all of it)."""
    session.execute(delete(FedState).where(FedState.name.in_([name for name, _, _ in _SWEPT])))
