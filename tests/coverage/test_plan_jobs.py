"""Plans as jobs: 202 at once, stages and percent by server-sent events, cancel, fair queue, re-queue."""

import json
import multiprocessing
import threading
import time
from datetime import timedelta
from pathlib import Path

from covkit import mapdata
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import TOWN1, TOWN2, VILLAGE1, build_world
from planjobkit import run_queued
from vigil.access.users import Principal
from vigil.api.app import create_app
from vigil.core.models import Role, utcnow
from vigil.coverage import jobs
from vigil.coverage.models import PlanJob, PlanRecord
from vigil.coverage.plan import STAGES
from vigil.coverage.progress import STAGE_WEIGHTS, StageProgress
from vigil.coverage.runner import PlanJobService
from vigil.coverage.service import PlanOptions, plans_dir, remeasure_files


def _sse(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_post_answers_202_at_once_and_the_runner_reports_every_stage(sqlite_vigil, kunming_community):
    w = build_world(sqlite_vigil)
    c = TestClient(create_app(sqlite_vigil), raise_server_exceptions=False)
    planner = {"Authorization": f"Bearer {w.tokens[f'planner-{TOWN1}']}"}
    other = {"Authorization": f"Bearer {w.tokens[f'planner-{TOWN2}']}"}
    form = {"region_code": VILLAGE1, "name": "jinse", "spacing": "8", "time_limit": "2", "level": "detect"}
    r = c.post("/api/v1/plans", data=form, headers=planner,
               files={"area": ("jinse.geojson", kunming_community.read_bytes(), "application/geo+json")})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] == "queued" and r.headers["location"] == job["url"] and "work_dir" not in job
    assert "/input/" not in r.text  # stored paths stay on the server
    # another town's planner sees nothing of it: 404 like a missing job, and an empty list
    for url in (job["url"], job["events_url"]):
        assert c.get(url, headers=other).status_code == 404
    assert c.post(job["url"] + "/cancel", headers=other).status_code == 404
    assert c.get("/api/v1/plans/jobs", headers=other).json()["items"] == []
    assert [j["id"] for j in c.get("/api/v1/plans/jobs?active=true", headers=planner).json()["items"]] == [job["id"]]
    with sqlite_vigil.db.session() as s:
        work = Path(s.get(PlanJob, job["id"]).work_dir)
    (work / "scratch").mkdir()
    (work / "scratch" / "left.bin").write_bytes(b"x")  # anything the finished plan does not need

    assert run_queued(sqlite_vigil) == ["done"]
    done = c.get(job["url"], headers=planner).json()
    assert done["state"] == "done" and done["percent"] == 100 and done["plan_id"]
    assert [(e["stage"], e["event"]) for e in done["events"]] == [(s, e) for s in STAGES for e in ("start", "done")]
    pcts = [e["percent"] for e in done["events"]]
    assert pcts == sorted(pcts) and pcts[-1] == 100
    events = _sse(c.get(job["events_url"], headers=planner).text)
    assert [d["stage"] for e, d in events if e == "stage"][:2] == ["read", "read"]
    assert events[-1] == ("end", {"state": "done", "plan_id": done["plan_id"], "plan_url": done["plan_url"],
                                  "error": None})
    plan = c.get(done["plan_url"], headers=planner).json()
    assert plan["summary"]["coverage_after"] > 0.9 and plan["region_code"] == VILLAGE1
    with sqlite_vigil.db.session() as s:  # the plan keeps its inputs: its sites can be re-measured
        rec = s.get(PlanRecord, done["plan_id"])
        assert rec.inputs["area"].endswith("jinse.geojson") and remeasure_files(rec.inputs)
    # the work folder keeps the report and the stored inputs, nothing else
    assert sorted(p.relative_to(work).parts[0] for p in work.iterdir()) == ["input", "out"]
    assert [p.name for p in (work / "input").rglob("*") if p.is_file()] == ["jinse.geojson"]
    assert Path(rec.out_dir) == (work / "out").resolve() and (work / "out" / "report.html").is_file()
    assert c.post(job["url"] + "/cancel", headers=planner).status_code == 409  # already done


def test_the_work_folder_of_a_failed_or_cancelled_job_goes(sqlite_vigil):
    w = build_world(sqlite_vigil)
    c = TestClient(create_app(sqlite_vigil), raise_server_exceptions=False)
    planner = {"Authorization": f"Bearer {w.tokens[f'planner-{TOWN1}']}"}
    junk = {"area": ("junk.geojson", b"not a map", "application/geo+json")}
    ids = [c.post("/api/v1/plans", data={"region_code": VILLAGE1, "time_limit": "5"}, files=junk,
                  headers=planner).json()["id"] for _ in range(2)]
    assert c.post(f"/api/v1/plans/jobs/{ids[1]}/cancel", headers=planner).json()["state"] == "cancelled"
    with sqlite_vigil.db.session() as s:
        failed, cancelled = (Path(s.get(PlanJob, i).work_dir) for i in ids)
    assert (failed / "input" / "area" / "junk.geojson").is_file() and cancelled.is_dir()
    runner = PlanJobService(sqlite_vigil, runner="t")
    assert runner.run_once() == "failed"
    with sqlite_vigil.db.session() as s:
        assert "not a readable vector file" in s.get(PlanJob, ids[0]).error
    assert not failed.exists() and cancelled.is_dir()  # cancelled while queued: no runner saw it end
    runner.sweep()  # what the runner's loop does at start and every ten seconds
    assert not cancelled.exists()
    assert list(plans_dir(sqlite_vigil).iterdir()) == []


def test_bad_options_are_refused_before_anything_is_queued(sqlite_vigil, kunming_community):
    w = build_world(sqlite_vigil)
    c = TestClient(create_app(sqlite_vigil), raise_server_exceptions=False)
    planner = {"Authorization": f"Bearer {w.tokens[f'planner-{TOWN1}']}"}
    files = {"area": ("a.geojson", kunming_community.read_bytes(), "application/geo+json")}
    for bad, word in (({"solver": "magic"}, "solver"), ({"time_limit": "500"}, "time_limit"),
                      ({"existing": "everything"}, "existing")):
        r = c.post("/api/v1/plans", data={"region_code": VILLAGE1, **bad}, files=files, headers=planner)
        assert r.status_code == 422 and word in r.text, r.text
    assert c.post("/api/v1/plans", data={"region_code": VILLAGE1, "area_name": "../x"},
                  headers=planner).status_code == 404
    with sqlite_vigil.db.session() as s:
        assert s.scalars(select(PlanJob)).all() == []


def _submit(v, user: str, region: str, files: dict | None = None, **opts) -> int:
    p = Principal(1, user, Role.ADMIN, ("5301",))
    with v.db.session() as s:
        return jobs.submit_job(s, p, PlanOptions(region_code=region, **opts), files or {"area": "/none"},
                               work_dir=v.settings.home / "plans" / f"{user}-{time.time_ns()}").id


def test_the_queue_is_round_robin_per_user(vigil):
    build_world(vigil)
    a = [_submit(vigil, "alice", VILLAGE1) for _ in range(4)]
    b = [_submit(vigil, "bob", VILLAGE1) for _ in range(2)]
    c = [_submit(vigil, "carol", VILLAGE1)]
    order = []
    for _ in range(7):
        with vigil.db.session() as s:
            job = jobs.claim_next(s, "r1")
            order.append(job.id)
            jobs.finish_job(s, job.id, "done")
        time.sleep(0.002)  # distinct start times
    assert order == [a[0], b[0], c[0], a[1], b[1], a[2], a[3]]
    with vigil.db.session() as s:
        assert jobs.claim_next(s, "r1") is None


def test_pick_next_serves_the_least_recently_served_user():
    t = utcnow()
    queued = [(1, "a"), (2, "a"), (3, "b")]
    assert jobs.pick_next(queued, {}) == 1
    assert jobs.pick_next(queued, {"a": t, "b": t - timedelta(hours=1)}) == 3
    assert jobs.pick_next(queued, {"a": t}) == 3  # b was never served
    assert jobs.pick_next([], {}) is None


def test_orphans_are_requeued_and_a_cancel_asked_of_one_ends_it(vigil):
    build_world(vigil)
    mine, theirs, stale, cancelled = (_submit(vigil, u, VILLAGE1) for u in ("u1", "u2", "u3", "u4"))
    with vigil.db.session() as s:
        for jid, runner in ((mine, "me"), (theirs, "live"), (stale, "dead"), (cancelled, "me")):
            s.execute(PlanJob.__table__.update().where(PlanJob.id == jid).values(
                state="running", runner=runner, heartbeat_at=utcnow()))
        s.get(PlanJob, stale).heartbeat_at = utcnow() - timedelta(minutes=5)
        s.get(PlanJob, cancelled).cancel_requested = True
    with vigil.db.session() as s:
        assert sorted(jobs.requeue_orphans(s, runner="me")) == sorted([mine, stale, cancelled])
    with vigil.db.session() as s:
        states = {j.id: j.state for j in s.scalars(select(PlanJob))}
        assert states == {mine: "queued", theirs: "running", stale: "queued", cancelled: "cancelled"}
        assert s.get(PlanJob, mine).events[-1]["event"] == "requeued"


def test_a_runner_at_start_takes_back_the_jobs_of_its_previous_life(sqlite_vigil, kunming_community, one_model):
    build_world(sqlite_vigil)
    jid = _submit(sqlite_vigil, "planner", VILLAGE1, files={"area": str(kunming_community)}, spacing=8.0,
                  time_limit=5.0, level="detect", solver="greedy")
    with sqlite_vigil.db.session() as s:
        assert jobs.claim_next(s, "host:home").id == jid  # then the server died
    service = PlanJobService(sqlite_vigil, runner="host:home", poll_s=0.2)
    service.start_sync()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with sqlite_vigil.db.session() as s:
                job = s.get(PlanJob, jid)
                if job.state not in jobs.ACTIVE:
                    break
            time.sleep(0.3)
    finally:
        service.stop_sync()
    assert job.state == "done", job.error
    assert job.attempts == 2 and job.plan_id is not None


def test_cancel_stops_a_running_solve_and_its_process(sqlite_vigil):
    build_world(sqlite_vigil)
    area = mapdata("kunming_jinjiang/buildings.geojson")  # 16 communities: minutes of work uncancelled
    jid = _submit(sqlite_vigil, "planner", VILLAGE1, files={"area": str(area)}, time_limit=120.0, solver="highs",
                  existing="none")
    queued = _submit(sqlite_vigil, "planner", VILLAGE1, files={"area": str(area)})
    result: list[str | None] = []
    runner = PlanJobService(sqlite_vigil, runner="t")
    t = threading.Thread(target=lambda: result.append(runner.run_once()))
    t.start()
    p = Principal(1, "planner", Role.ADMIN, ("5301",))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until the child reports its first stage
        with sqlite_vigil.db.session() as s:
            if s.get(PlanJob, jid).events:
                break
        time.sleep(0.2)
    with sqlite_vigil.db.session() as s:
        assert jobs.cancel_job(s, p, jid).state == "running"  # asked; the runner ends it
        assert jobs.cancel_job(s, p, queued).state == "cancelled"  # a queued one ends at once
    t.join(60)
    assert result == ["cancelled"]
    assert not [c for c in multiprocessing.active_children() if c.name.startswith("vigil-plan-")]
    with sqlite_vigil.db.session() as s:
        job = s.get(PlanJob, jid)
        assert job.state == "cancelled" and job.plan_id is None and job.finished_at is not None
        assert s.scalars(select(PlanRecord)).all() == []
    assert not Path(job.work_dir).exists()  # the half-written outputs went with the job


def test_stage_progress_adds_up_and_creeps_through_the_solve(monkeypatch):
    assert sum(STAGE_WEIGHTS.values()) == 100 and set(STAGE_WEIGHTS) == set(STAGES)
    clock = [0.0]
    monkeypatch.setattr("vigil.coverage.progress.time.monotonic", lambda: clock[0])
    sp = StageProgress(time_limit=10)
    for s in STAGES[:4]:
        sp.update(s, "start")
        sp.update(s, "done")
    assert sp.percent() == 50
    sp.update("optimise", "start")
    clock[0] = 5.0
    assert sp.percent() == 50 + 45 / 2
    clock[0] = 100.0
    assert sp.percent() < 95  # never claims the solve is over before it is
    sp.update("optimise", "done")
    sp.update("report", "start")
    assert sp.update("report", "done") == 100
