"""Plan service for the API: options and stored inputs of a plan, list and fetch plans in scope.

Plans run as jobs (:mod:`vigil.coverage.jobs`); this module turns the API's options and uploaded
(or registered) files into a :class:`~vigil.coverage.plan.PlanRequest`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.access.guard import get_in_scope
from vigil.access.users import Principal
from vigil.core.context import Vigil
from vigil.core.errors import InputError, NotFoundError
from vigil.coverage.models import PlanRecord

if TYPE_CHECKING:
    from vigil.coverage.plan import PlanRequest

__all__ = ["PLAN_FILES", "PlanOptions", "check_options", "get_plan", "list_plans", "plan_file", "plan_request",
           "plans_dir", "remeasure_files", "request_from_inputs", "request_inputs"]

PLAN_FILES = {"report.html": "text/html", "map.png": "image/png", "tradeoff.png": "image/png",
              "plan.geojson": "application/geo+json", "targets.geojson": "application/geo+json",
              "summary.json": "application/json"}
#: the keys of a plan request that name files (the stored inputs)
_INPUT_FILES = ("area", "roads", "boundary", "must_watch", "existing", "catalog")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_TIME_LIMIT_S = 120.0


@dataclass(frozen=True, kw_only=True)
class PlanOptions:
    """Options a caller may set through the API (a subset of the CLI's)."""

    region_code: str
    name: str = ""
    level: str = "observe"
    profile: str = "dori2015"
    target: float | None = None
    budget: float | None = None
    k: int = 1
    spacing: float = 5.0
    eagle_eye: bool = False  # a town centre: rooftop and tower high points
    solver: str = "auto"
    time_limit: float = 30.0
    existing: str = "registry"


def plans_dir(v: Vigil) -> Path:
    """Where the API keeps plan inputs and outputs."""
    return v.settings.home / "plans"


def save_upload(folder: Path, filename: str, data: bytes) -> Path:
    """Store an uploaded file under a safe name."""
    folder.mkdir(parents=True, exist_ok=True)
    name = _SAFE.sub("_", Path(filename or "area.geojson").name) or "area.geojson"
    path = folder / name
    path.write_bytes(data)
    return path


def registered_area(v: Vigil, name: str) -> Path:
    """A file under ``<home>/areas`` (an area registered by an administrator)."""
    root = (v.settings.home / "areas").resolve()
    p = (root / name).resolve()
    if root not in p.parents or not p.is_file():
        raise NotFoundError(f"area {name!r} not found")
    return p


def check_options(opts: PlanOptions) -> None:
    """Refuse options the planner cannot run, before anything is queued."""
    from vigil.coverage.optimize import SOLVERS  # numpy and scipy: not at app start

    if opts.solver not in SOLVERS:
        raise InputError("solver must be auto, highs, cpsat or greedy")
    if opts.existing not in ("registry", "none"):
        raise InputError("existing must be registry or none")
    if not 0 < opts.time_limit <= MAX_TIME_LIMIT_S:
        raise InputError(f"time_limit must be more than 0 and at most {MAX_TIME_LIMIT_S:g} seconds")
    if opts.k < 1 or opts.spacing <= 0:
        raise InputError("k must be at least 1 and spacing more than 0")


def plan_request(opts: PlanOptions, files: dict[str, str]) -> PlanRequest:
    """The :class:`PlanRequest` of API options and stored input files (``area``, ``roads``...)."""
    from vigil.coverage.plan import PlanRequest  # numpy, shapely and the solvers: not at app start

    target = opts.target if opts.target is not None else (None if opts.budget is not None else 1.0)
    def path(k: str) -> Path | None:
        return Path(files[k]) if files.get(k) else None

    return PlanRequest(area=Path(files["area"]), roads=path("roads"), boundary=path("boundary"),
                       must_watch=path("must_watch"), level=opts.level, profile=opts.profile, target=target,
                       budget=opts.budget, k=opts.k, spacing=opts.spacing, solver=opts.solver,
                       time_limit=min(opts.time_limit, MAX_TIME_LIMIT_S), name=opts.name, eagle_eye=opts.eagle_eye)


def request_inputs(req: PlanRequest) -> dict[str, Any]:
    """A plan request as JSON (paths as strings): what re-measures the plan's sites later."""
    return {k: (str(v.resolve()) if isinstance(v, Path) else v) for k, v in asdict(req).items()}


def request_from_inputs(data: dict[str, Any]) -> PlanRequest:
    """The inverse of :func:`request_inputs` (unknown keys of older versions are dropped)."""
    from vigil.coverage.plan import PlanRequest

    known = {f.name: f for f in fields(PlanRequest)}
    vals = {k: v for k, v in data.items() if k in known}
    for k in _INPUT_FILES:
        if vals.get(k):
            vals[k] = Path(vals[k])
    return PlanRequest(**vals)


def remeasure_files(inputs: dict[str, Any] | None) -> list[Path]:
    """The files a plan's sites are re-measured from; empty when the plan cannot be re-measured.

    The one rule for both sides: a plan can be re-measured (:mod:`vigil.coverage.current`) when it kept its
    inputs (:func:`request_inputs`: per-area plans do, city plans do not) and every file they name is still
    there; the job runner keeps exactly these files when it cleans a finished job's work folder.
    """
    if not inputs or not inputs.get("area"):
        return []
    files = [Path(inputs[k]) for k in _INPUT_FILES if inputs.get(k)]
    return files if all(f.is_file() for f in files) else []


def list_plans(session: Session, p: Principal, *, limit: int = 100, offset: int = 0) -> list[PlanRecord]:
    """Per-area plans in the caller's region scope, newest first (city plans are listed at /city-plans)."""
    mode = func.coalesce(PlanRecord.summary["mode"].as_string(), "")
    stmt = (select(PlanRecord).where(p.scope.clause(PlanRecord.region_code), mode != "city")
            .order_by(PlanRecord.id.desc()).limit(limit).offset(offset))
    return list(session.scalars(stmt))


def get_plan(session: Session, p: Principal, plan_id: int) -> PlanRecord:
    """One plan; plans outside the caller's scope are reported as not found."""
    return get_in_scope(session, PlanRecord, plan_id, p, what=f"plan {plan_id}")


def plan_file(rec: PlanRecord, name: str, *, files: Mapping[str, str] = PLAN_FILES, what: str = "plan") -> Path:
    """A report file of a plan: only the known outputs (``files``: a city plan passes ``CITY_FILES``) are served."""
    if name not in files:
        raise NotFoundError(f"no file {name!r}; one of {', '.join(files)}")
    path = Path(rec.out_dir) / name
    if not path.is_file():
        raise NotFoundError(f"file {name} of {what} {rec.id} is gone")
    return path


def plan_json(rec: PlanRecord, *, full: bool = False) -> dict[str, Any]:
    """Public shape of a plan."""
    s = rec.summary or {}
    keys = ("level", "ppm", "targets", "coverable", "coverage_before", "coverage_after", "cameras_existing",
            "cameras_new", "cost_new", "gap", "solver", "status")
    out: dict[str, Any] = {"id": rec.id, "name": rec.name, "region_code": rec.region_code,
                           "created_at": rec.created_at.isoformat(), "created_by": rec.created_by,
                           "applied_at": rec.applied_at.isoformat() if rec.applied_at else None,
                           **{k: s.get(k) for k in keys},
                           "files": {n: f"/api/v1/plans/{rec.id}/files/{n}" for n in PLAN_FILES}}
    if full:
        out["summary"] = s
    return out
