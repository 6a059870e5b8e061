"""KPI benchmark: compute_kpis over a city of 20,547 cameras with a week of status and quality changes.

Usage: .venv/bin/python bench/kpi.py [--cameras N] [--changes K] [--db URL]

Builds (once per run, in a temporary SQLite file unless --db names a PostgreSQL database) a
prefecture with 1 city, 20 towns and 200 villages, N in-service cameras, about K status
changes per camera over 7 days and picture-fault changes on 10 % of them, plus alarms and
verified work orders. It then times:
  * vigil    : ``compute_kpis(depth=3)`` — every region of the tree (online, online now,
               integrity, coverage, repair time, counts) from a handful of queries + numpy;
  * baseline : the same online and integrity rates computed the obvious way — one query
               per camera for its changes, then a Python loop per camera — for the town level
               only (fewer outputs than vigil computes).
and prints both and the ratio.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from vigil.core.context import Vigil
from vigil.core.ids import generate_device_id
from vigil.core.models import Camera, Region
from vigil.health.kpi import compute_kpis
from vigil.health.models import Alarm, CameraStatus, MaintenanceTeam, QualityChange, StatusChange, WorkOrder

END = datetime(2026, 11, 27, tzinfo=UTC)
WEEK = timedelta(days=7)


def build(v: Vigil, n: int, k: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    regions = [{"code": "5301", "name": "Pref", "level": 1, "parent_code": None},
               {"code": "530181", "name": "City", "level": 2, "parent_code": "5301"}]
    villages = []
    for t in range(1, 21):
        town = f"530181{t:02d}"
        regions.append({"code": town, "name": f"Town {t}", "level": 3, "parent_code": "530181"})
        for vi in range(1, 11):
            code = f"{town}{200 + vi:03d}"
            regions.append({"code": code, "name": f"Village {t}-{vi}", "level": 4, "parent_code": town})
            villages.append(code)
    cams, status, changes, quality = [], [], [], []
    start = END - WEEK
    for i in range(n):
        village = villages[i % len(villages)]
        cid = generate_device_id(village, i).value
        cams.append({"id": cid, "name": f"cam {i}", "region_code": village, "lon": 102.5, "lat": 25.0,
                     "lifecycle": "in_service"})
        state = rnd.random() < 0.98
        changes.append({"camera_id": cid, "ts": start - timedelta(days=3), "state": "online" if state else "down",
                        "reason": ""})
        t = 0.0
        for _ in range(rnd.randint(0, k)):  # outages of about 2 h on average, at random times
            t += rnd.uniform(0, 2 * WEEK.total_seconds() / k)
            changes.append({"camera_id": cid, "ts": start + timedelta(seconds=t), "state": "down", "reason": ""})
            t += rnd.expovariate(1 / 7200)
            changes.append({"camera_id": cid, "ts": start + timedelta(seconds=t), "state": "online", "reason": ""})
            state = True
        status.append({"camera_id": cid, "state": "online" if state else "down", "since": END, "faults": []})
        if rnd.random() < 0.1:
            t = rnd.uniform(0, WEEK.total_seconds() - 3600)
            quality += [{"camera_id": cid, "ts": start + timedelta(seconds=t), "faults": ["blur"], "metrics": {}},
                        {"camera_id": cid, "ts": start + timedelta(seconds=t + 3600), "faults": [], "metrics": {}}]
    with v.db.session() as s:
        for table, rows in ((Region, regions), (Camera, cams), (CameraStatus, status), (StatusChange, changes),
                            (QualityChange, quality)):
            for j in range(0, len(rows), 5000):
                s.execute(insert(table), rows[j:j + 5000])
        team = MaintenanceTeam(name="acme", contractor="Acme", region_code="530181")
        s.add(team)
        s.flush()
        for j in range(500):
            cid = cams[j * 37 % n]["id"]
            raised = start + timedelta(hours=rnd.uniform(0, 100))
            a = Alarm(camera_id=cid, region_code=cams[j * 37 % n]["region_code"], kind="offline", raised_at=raised,
                      state="cleared")
            s.add(a)
            s.flush()
            s.add(WorkOrder(alarm_id=a.id, camera_id=cid, region_code=a.region_code, team_id=team.id, state="closed",
                            opened_at=raised, due_at=raised + timedelta(hours=24),
                            verified_at=raised + timedelta(hours=rnd.uniform(1, 30))))
    print(f"built {n} cameras, {len(changes)} status changes, {len(quality)} quality changes")
    return [c["id"] for c in cams]


def baseline(v: Vigil, ids: list[str]) -> dict[str, float]:
    """Per camera: query its changes, walk them in Python; aggregate per town."""
    start, end = END - WEEK, END
    span = (end - start).total_seconds()
    sums: dict[str, list[float]] = {}
    with v.db.session() as s:
        for cid in ids:
            rows = s.execute(select(StatusChange.ts, StatusChange.state).where(StatusChange.camera_id == cid)
                             .order_by(StatusChange.ts)).all()
            up, state, t_prev = 0.0, False, start
            for ts, st in rows:
                t = min(max(ts, start), end)
                if state:
                    up += (t - t_prev).total_seconds()
                state, t_prev = st == "online", t
            if state:
                up += (end - t_prev).total_seconds()
            sums.setdefault(cid[:8], []).append(up / span)
    return {town: sum(x) / len(x) for town, x in sums.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, default=20547)
    ap.add_argument("--changes", type=int, default=4, help="mean status changes per camera in the week")
    ap.add_argument("--db", default="")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        v = Vigil.open(args.db or f"sqlite:///{tmp}/bench.db", tmp)
        ids = build(v, args.cameras, args.changes)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            with v.db.session() as s:
                rep = compute_kpis(s, "5301", period=WEEK, end=END, depth=3, now=END)
            times.append(time.perf_counter() - t0)
        t_vigil = min(times)
        t0 = time.perf_counter()
        towns = baseline(v, ids)
        t_base = time.perf_counter() - t0
        k = {r.region_code: r for r in rep.regions}
        worst = max(abs(k[t].online_rate - towns[t]) for t in towns)
        print(f"vigil compute_kpis, {len(rep.regions)} regions, {args.cameras} cameras: {t_vigil:.3f} s "
              f"(best of 3: {', '.join(f'{x:.3f}' for x in times)})")
        print(f"prefecture: online {k['5301'].online_rate:.4f}, now {k['5301'].online_now:.4f}, "
              f"integrity {k['5301'].integrity_rate:.4f}, repairs {k['5301'].repairs}, "
              f"p50 {k['5301'].repair_median_h:.1f} h, p90 {k['5301'].repair_p90_h:.1f} h")
        print(f"baseline per-camera queries + Python loop (online rate of 20 towns only): {t_base:.3f} s")
        print(f"ratio baseline / vigil: {t_base / t_vigil:.1f}x; largest town online-rate difference {worst:.2e}")
        v.close()


if __name__ == "__main__":
    main()
