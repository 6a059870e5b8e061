"""``/metrics`` counts failed background work per kind: imports, plan and city jobs, retention, periodic passes."""

from __future__ import annotations

import asyncio
import re

from fastapi.testclient import TestClient

from vigil.access.users import add_user, issue_token
from vigil.api.app import create_app
from vigil.core.models import Region, Role, utcnow
from vigil.core.periodic import Periodic
from vigil.coverage import jobs
from vigil.coverage.models import PlanJob
from vigil.health.scheduler import HealthScheduler
from vigil.video.recorder import Recorder, RecorderConfig


def _errors(c: TestClient, headers: dict[str, str]) -> dict[str, float]:
    r = c.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    return {m[1]: float(m[2]) for m in re.finditer(r'^vigil_job_errors_total\{kind="([^"]+)"\} (\S+)$', r.text, re.M)}


def _running_job(v, kind: str) -> int:
    with v.db.session() as s:
        job = PlanJob(name=f"{kind} job", region_code="5301", created_by="admin", state="running", stage="",
                      percent=0.0, events=[], request={"kind": kind}, created_at=utcnow(), work_dir="")
        s.add(job)
        s.flush()
        return job.id


async def _one_failing_pass(name: str) -> None:
    failed = asyncio.Event()

    def boom() -> None:
        raise RuntimeError("the pass broke")

    loop = Periodic(boom, interval=30, name=name, on_error=lambda exc: failed.set())
    await loop.start()
    await asyncio.wait_for(failed.wait(), 10)
    await loop.stop()


def test_each_failure_moves_its_kind(sqlite_vigil):
    v = sqlite_vigil
    with v.db.session() as s:
        s.add(Region(code="5301", name="Kunming", level=1))
        s.flush()
        token = issue_token(s, add_user(s, "admin", "pw-0123456789", Role.ADMIN, ["5301"]))
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(v)) as c:
        before = _errors(c, headers)
        assert {"plan", "city", "import", "retention", "health"} <= set(before)  # exported from the start
        bad = c.post("/api/v1/import/regions", headers=headers,
                     files={"file": ("r.csv", b"code,name,level,parent\n53019,Bad,9,5301\n", "text/csv")})
        assert bad.status_code == 422, bad.text
        for kind in ("plan", "city"):
            with v.db.session() as s:
                jobs.finish_job(s, _running_job(v, kind), "failed", error="solver crashed")
        v.settings.recordings_dir.parent.mkdir(parents=True, exist_ok=True)
        v.settings.recordings_dir.write_text("not a folder")  # the retention pass cannot create its root
        assert Recorder(v, RecorderConfig()).enforce_retention() is None
        asyncio.run(_one_failing_pass("vigil-test-pass"))
        HealthScheduler(v)._failed("probing", RuntimeError("lost the database"))  # noqa: SLF001
        after = _errors(c, headers)
    moved = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert moved == {"plan": 1, "city": 1, "import": 1, "retention": 1, "health": 1, "vigil-test-pass": 1} | {
        k: 0 for k in after if k not in ("plan", "city", "import", "retention", "health", "vigil-test-pass")}
