"""Monitoring-centre benchmark: open a 16-tile patrol round, and build the monthly report of the demo city.

Usage: .venv/bin/python bench/centre.py [--runs N] [--days D]

Builds the demo city (regions, sites and cameras) in a temporary SQLite file, with D days of status
history, alarms and closed work orders (``vigil.demo.history.seed_history``), three 8-hour shifts per
town, a 16-camera round per town run three times a day (one run in ten missed, one in five late, every
run with 16 marked views) and the alarms acknowledged by the officers on duty. Then, through the API
(an in-process client, a duty officer's token for the city):

  * round    : ``POST /api/v1/centre/rounds/{id}/runs`` — start a run and get the wall: the round, the 16
               camera names, the views (the one request the console page makes), against the baseline of
               the same wall built the obvious way: ``GET /api/v1/cameras/{id}`` once per tile;
  * report   : ``GET /api/v1/centre/report`` for the month, HTML and PDF, against the health
               daily report of the same city (``GET /api/v1/health/report/daily``, HTML) as a reference.
Prints the medians and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from vigil.access.bootstrap import init_instance
from vigil.access.guard import Scope
from vigil.access.users import add_user, issue_token
from vigil.api.app import create_app
from vigil.centre import duty, rounds
from vigil.centre.models import PatrolRound, RoundRun, RoundView
from vigil.core.context import Vigil
from vigil.core.models import Camera, Region
from vigil.demo.city import PREFECTURE, build_demo_city
from vigil.demo.history import seed_history
from vigil.health.models import Alarm
from vigil.registry.streams import in_service_population

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
MONTH = "2026-11"


def _median_ms(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def build(v: Vigil, days: int) -> tuple[str, list[int], list[str], str]:
    """The demo city with a month of centre work: the city code, round ids, one round's cameras, a token."""
    init_instance(v, root_code=PREFECTURE[0], root_name=PREFECTURE[1])
    build_demo_city(v)
    seed_history(v, days=days, now=NOW)
    every = Scope.everything()
    round_ids, first_cams = [], []
    with v.db.session() as s:
        city = s.scalar(select(Region.code).where(Region.level == 2).order_by(Region.code))
        towns = list(s.scalars(select(Region.code).where(Region.level == 3).order_by(Region.code)))
        for t in towns:
            for name, start in (("night", "00:00"), ("day", "08:00"), ("evening", "16:00")):
                duty.define_shift(s, region_code=t, name=name, start=start, team=f"{t} squad", scope=every,
                                  actor="bench")
            cams = list(s.scalars(select(Camera.id).where(in_service_population(t)).order_by(Camera.id).limit(16)))
            if len(cams) < 16:
                continue
            r = rounds.create_round(s, region_code=t, name=f"{t} gates", cameras=[{"camera_id": c} for c in cams],
                                    hours=[1, 9, 17], scope=every, actor="bench")
            round_ids.append(r.id)
            first_cams = first_cams or cams
            add_user(s, f"officer-{t}", "a-long-password", "duty_officer", [t], team=f"{t} squad")
        runs, views = [], []
        start = NOW - timedelta(days=days)
        for i, rid in enumerate(round_ids):
            r = s.get(PatrolRound, rid)
            for k, slot in enumerate(rounds.due_slots([1, 9, 17], start, NOW, duty.centre_zone())):
                state = "missed" if (k + i) % 10 == 0 else "done"
                runs.append({"round_id": rid, "region_code": r.region_code, "due_at": slot,
                             "officer": "" if state == "missed" else f"officer-{r.region_code}",
                             "started_at": None if state == "missed" else slot + timedelta(minutes=5),
                             "finished_at": None if state == "missed" else slot + timedelta(minutes=12),
                             "state": state, "late": state == "done" and (k + i) % 5 == 0})
        s.execute(insert(RoundRun), runs)
        for run_id, rid, state in s.execute(select(RoundRun.id, RoundRun.round_id, RoundRun.state)):
            if state == "done":
                cams = s.get(PatrolRound, rid).cameras
                views += [{"run_id": run_id, "camera_id": c["camera_id"], "status": "normal", "note": "",
                           "snapshot": "", "checks": {}, "at": NOW} for c in cams]
        s.execute(insert(RoundView), views)
        for a in s.scalars(select(Alarm)):  # acknowledged by the officer of the alarm's town, 3 minutes in
            s.execute(update(Alarm).where(Alarm.id == a.id).values(
                acknowledged_by=f"officer-{a.region_code[:8]}",
                detail={**(a.detail or {}), "acknowledged_at": (a.raised_at + timedelta(minutes=3)).isoformat()}))
        token = issue_token(s, add_user(s, "city-officer", "a-long-password", "duty_officer", [city]))
    return city, round_ids, first_cams, token


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--days", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-centre-") as d:
        v = Vigil.open(f"sqlite:///{d}/v.db", str(Path(d) / "home"))
        t0 = time.perf_counter()
        city, round_ids, cams, token = build(v, args.days)
        with v.db.session() as s:
            n_runs = s.scalar(select(RoundRun.id).order_by(RoundRun.id.desc()).limit(1))
            n_cams = len(list(s.scalars(select(Camera.id))))
        print(f"built the demo city: {n_cams} cameras, {len(round_ids)} rounds of 16, {n_runs} runs over "
              f"{args.days} days ({time.perf_counter() - t0:.1f} s)")
        client = TestClient(create_app(v))
        hdr = {"Authorization": f"Bearer {token}"}

        def open_round() -> None:
            r = client.post(f"/api/v1/centre/rounds/{round_ids[0]}/runs", headers=hdr)
            assert r.status_code == 201 and len(r.json()["camera_names"]) == 16, r.text

        def open_tiles() -> None:
            for c in cams:
                assert client.get(f"/api/v1/cameras/{c}", headers=hdr).status_code == 200

        def report(fmt: str) -> None:
            r = client.get("/api/v1/centre/report", params={"month": MONTH, "region": city, "format": fmt,
                                                            "lang": "zh"}, headers=hdr)
            assert r.status_code == 200, r.text

        def daily() -> None:
            r = client.get("/api/v1/health/report/daily", params={"region": city, "date": "2026-11-29"},
                           headers=hdr)
            assert r.status_code == 200, r.text[:200]

        rnd, tiles = _median_ms(open_round, args.runs), _median_ms(open_tiles, args.runs)
        html = _median_ms(lambda: report("html"), max(3, args.runs // 3))
        pdf = _median_ms(lambda: report("pdf"), 3)
        ref = _median_ms(daily, 3)
        print(f"open a 16-tile round : {rnd:8.1f} ms   baseline (16 camera GETs) {tiles:8.1f} ms   "
              f"ratio {tiles / rnd:5.2f}x")
        print(f"monthly report HTML  : {html:8.1f} ms   reference (daily health report) {ref:8.1f} ms   "
              f"ratio {html / ref:5.2f}x")
        print(f"monthly report PDF   : {pdf:8.1f} ms")
        client.close()
        v.close()


if __name__ == "__main__":
    main()
