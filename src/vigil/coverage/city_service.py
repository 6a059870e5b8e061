"""City plans and the registry: plan a region's sites under one budget, record the result, list and fetch it.

A city plan is stored as a :class:`~vigil.coverage.models.PlanRecord` whose summary says ``mode: city``, so
its per-site coverage feeds the coverage-rate KPI like any plan; the city routes only show city plans.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.guard import Scope, get_in_scope
from vigil.core.context import Vigil
from vigil.core.errors import NotFoundError
from vigil.core.models import Region
from vigil.coverage.apply import record_plan
from vigil.coverage.city import CityOptions, CityProgress, run_city
from vigil.coverage.city_sites import sites_from_registry
from vigil.coverage.models import PlanRecord

__all__ = ["city_area", "get_city_plan", "list_city_plans", "plan_region"]

_LIST_WINDOW = 2000


def city_area(v: Vigil, name: str) -> Path:
    """A building file or folder under ``<home>/areas`` (registered by an administrator)."""
    root = (v.settings.home / "areas").resolve()
    p = (root / (name or "")).resolve()
    if not name or root not in p.parents or not p.exists():
        raise NotFoundError(f"area {name!r} not found")
    return p


def plan_region(v: Vigil, *, scope: Scope, region_code: str, buildings: Path, opts: CityOptions, actor: str,
                out: Path | None = None, progress: CityProgress | None = None,
                cancelled: Any = None) -> PlanRecord:
    """Plan every site in scope under ``region_code`` with building data, and record the city plan.

    Existing cameras come from the region's subtree within ``scope``; the record belongs to ``region_code``.
    """
    opts.check()
    with v.db.session() as s:
        get_in_scope(s, Region, region_code, scope, what=f"region {region_code}")
    work = out or v.settings.home / "plans" / f"city-{uuid.uuid4().hex}"
    with v.db.session() as s:  # no transaction is held while the sites are priced
        sites, skipped = sites_from_registry(s, scope=scope, region_code=region_code, buildings=buildings,
                                             work=work / "input")
    plan = run_city(sites, opts, work, progress=progress, cancelled=cancelled, skipped=skipped)
    with v.db.session() as s:
        rec = record_plan(s, plan.summary, work, region_code=region_code, created_by=actor,
                          name=opts.name or f"city plan {region_code}")
        s.flush()
        s.expunge(rec)
    return rec


def _is_city(rec: PlanRecord) -> bool:
    return (rec.summary or {}).get("mode") == "city"


def list_city_plans(session: Session, scope: Scope, *, limit: int = 100) -> list[PlanRecord]:
    """City plans in ``scope``, newest first."""
    rows = session.scalars(select(PlanRecord).where(scope.clause(PlanRecord.region_code))
                           .order_by(PlanRecord.id.desc()).limit(_LIST_WINDOW))
    return [r for r in rows if _is_city(r)][:limit]


def get_city_plan(session: Session, scope: Scope, plan_id: int) -> PlanRecord:
    """One city plan in ``scope``; anything else (missing, hidden, a one-area plan) is not found."""
    rec = get_in_scope(session, PlanRecord, plan_id, scope, what=f"city plan {plan_id}")
    if not _is_city(rec):
        raise NotFoundError(f"city plan {plan_id} not found")
    return rec
