"""Plan jobs in tests: submit through the API and run the queue in-process (no `vigil serve` needed)."""

from __future__ import annotations

from typing import Any

from vigil.core.context import Vigil
from vigil.coverage.runner import PlanJobService


def run_queued(v: Vigil) -> list[str]:
    """Run every queued plan job to its end in this process; return their final states."""
    runner = PlanJobService(v, runner="test-runner")
    states = []
    while (state := runner.run_once()) is not None:
        states.append(state)
    return states


def post_plan(client: Any, v: Vigil, *, data: dict, files: dict, headers: dict) -> Any:
    """POST /api/v1/plans, run the job, and return the answer of GET /api/v1/plans/{id} (or the failed job)."""
    r = client.post("/api/v1/plans", data=data, files=files, headers=headers)
    if r.status_code != 202:
        return r
    run_queued(v)
    job = client.get(r.json()["url"], headers=headers)
    if job.json()["state"] != "done":
        return job
    return client.get(job.json()["plan_url"], headers=headers)
