"""Plan jobs in the scope matrix: a finished job per area, and fresh queued ones for writes (cancel).

Importing this registers a seeder with :mod:`scopekit` and the ``MISSING`` ID of ``job_id``;
:mod:`matrixkit` merges :data:`PATH`.
"""

from __future__ import annotations

from collections.abc import Callable

from scopekit import AREAS, MISSING, SEEDERS, TAG, Ctx

from vigil.core.models import utcnow
from vigil.coverage.models import PlanJob


def _job(ctx: Ctx, area: str, state: str) -> str:
    with ctx.v.db.session() as s:
        job = PlanJob(region_code=AREAS[area][1], name=f"{TAG[area]} job {ctx.n()}", created_by=f"planner-{AREAS[area][0]}",
                      state=state, stage="report" if state == "done" else "", percent=100.0 if state == "done" else 0.0,
                      events=[], request={"options": {"level": "observe"}, "files": {}}, work_dir="/nonexistent",
                      cancel_requested=False, runner="", attempts=0,
                      finished_at=utcnow() if state == "done" else None)
        s.add(job)
        s.flush()
        return str(job.id)


def seed(ctx: Ctx) -> None:
    """Per area: one finished job (its event stream ends at once)."""
    for area in AREAS:
        ctx.objs[area]["job_id"] = _job(ctx, area, "done")


SEEDERS.append(seed)
MISSING["job_id"] = "987654"

PATH: dict[str, Callable[[Ctx, str, str, bool], str]] = {
    "job_id": lambda c, a, p, f: _job(c, a, "queued") if f else c.objs[a]["job_id"],
}
