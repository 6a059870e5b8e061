"""Benchmark: time series retention on PostgreSQL, row-by-row DELETE vs dropping whole partitions.

    nice -n 10 .venv/bin/python bench/retention.py [--rows 2000000] [--cameras 2000] [--keep 180]

A throw-away PostgreSQL gets a migrated Vigil schema (``status_changes`` partitioned by month) and a
plain copy of the table with the same keys and indexes (the baseline: the schema before
partitioning). Both hold the same ``--rows`` status changes spread over the last 365 days.
Retention then forgets what is older than ``--keep`` days, up to the same boundary (the start of
the oldest month kept) on both:

* baseline: the same move, ``DELETE FROM plain WHERE ts < boundary``, then ``VACUUM`` (the dead rows' space is
  reusable only after it; autovacuum would do it later, on the same disk and CPU);
* partitions: :func:`vigil.core.timeseries.apply_retention`: each camera's last change is moved
  to the boundary (the KPIs stay exact), then ``DROP TABLE`` of the old partitions.

It prints both times and their ratio (baseline / partitions).
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from _pg import machine_line, throwaway_pg
from sqlalchemy import text

from vigil.core.context import Vigil
from vigil.core.models import Camera, Region, utcnow
from vigil.core.timeseries import (
    SERIES,
    MaintenanceReport,
    apply_retention,
    carry_forward,
    ensure_partitions,
    partitions,
)

SPEC = next(s for s in SERIES if s.table == "status_changes")
_FILL = ("INSERT INTO status_changes (camera_id, ts, state, reason, ms) SELECT c.id, :start + (random() * 365) * interval '1 day', "
         "CASE WHEN random() < 0.5 THEN 'online' ELSE 'down' END, '', 3.0 FROM "
         "(SELECT id FROM cameras ORDER BY id) c, generate_series(1, :per)")


def _setup(v: Vigil, cameras: int, rows: int) -> None:
    now = utcnow()
    with v.db.session() as s:
        s.add(Region(code="5301", name="Bench", level=1, parent_code=None))
        s.flush()
        s.add_all([Camera(id=f"530100000013{i:08d}", name=f"cam {i}", region_code="5301", lon=102.7, lat=25.0)
                   for i in range(cameras)])
        s.flush()
        ensure_partitions(s.connection(), SPEC, now=now, since=now - timedelta(days=366))
        s.execute(text("CREATE TABLE sc_plain (LIKE status_changes INCLUDING DEFAULTS)"))
        s.execute(text("ALTER TABLE sc_plain ADD PRIMARY KEY (id)"))
        s.execute(text("CREATE INDEX ix_sc_plain_cam_ts ON sc_plain (camera_id, ts)"))
        s.execute(text("ALTER TABLE sc_plain ADD FOREIGN KEY (camera_id) REFERENCES cameras (id) ON DELETE CASCADE"))
    args = {"start": now - timedelta(days=365), "per": rows // cameras}
    for t, fill in (("status_changes", _FILL), ("sc_plain", "INSERT INTO sc_plain SELECT * FROM status_changes")):
        t0 = time.perf_counter()
        with v.db.session() as s:
            s.execute(text(fill), args if t == "status_changes" else {})
        print(f"filled {t}: {rows // cameras * cameras:,} rows in {time.perf_counter() - t0:.1f} s")
    with v.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE status_changes"))
        c.execute(text("VACUUM ANALYZE sc_plain"))


def run(v: Vigil, *, cameras: int, rows: int, keep: float) -> None:
    _setup(v, cameras, rows)
    now = utcnow()
    with v.db.session() as s:
        old = [p for p in partitions(s.connection(), SPEC) if p.hi <= now - timedelta(days=keep)]
    boundary = max(p.hi for p in old)
    t0 = time.perf_counter()
    with v.db.session() as s:
        carried = carry_forward(s.connection(), "sc_plain", "ts", boundary)  # the KPI rule of the drop
        t_carry = time.perf_counter() - t0
        deleted = s.execute(text("DELETE FROM sc_plain WHERE ts < :b"), {"b": boundary}).rowcount
    t_delete = time.perf_counter() - t0
    with v.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM sc_plain"))
    t_vacuum = time.perf_counter() - t0
    with v.db.session() as s:
        before = s.scalar(text("SELECT count(*) FROM status_changes WHERE ts < :b"), {"b": boundary})
    rep = MaintenanceReport()
    t0 = time.perf_counter()
    with v.db.session() as s:
        apply_retention(s.connection(), SPEC, now=now, keep=keep, report=rep)
    t_drop = time.perf_counter() - t0
    assert before == deleted + carried, (before, deleted, carried)
    print(f"retention: {deleted:,} rows older than {boundary:%Y-%m-%d} ({len(rep.dropped)} monthly partitions), "
          f"keep {keep:g} days")
    assert carried == rep.carried, (carried, rep.carried)
    rm_delete, rm_vacuum = t_delete - t_carry, t_vacuum - t_carry
    print(f"baseline (plain table): move {carried:,} rows {t_carry:.3f} s, DELETE {rm_delete:.3f} s, "
          f"VACUUM {t_vacuum - t_delete:.3f} s; total {t_vacuum:.2f} s")
    print(f"partitions: move {rep.carried:,} rows {rep.carry_s:.3f} s, DROP {rep.remove_s:.3f} s; "
          f"total {t_drop:.2f} s")
    print(f"ratio, removing the rows: DELETE / DROP {rm_delete / rep.remove_s:.0f}x, "
          f"DELETE+VACUUM / DROP {rm_vacuum / rep.remove_s:.0f}x; whole retention {t_vacuum / t_drop:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--cameras", type=int, default=2000)
    ap.add_argument("--keep", type=float, default=180.0)
    a = ap.parse_args()
    print(machine_line())
    with throwaway_pg("retention") as (url, tmp):
        v = Vigil.open(url, str(tmp / "home"))
        try:
            run(v, cameras=a.cameras, rows=a.rows, keep=a.keep)
        finally:
            v.close()


if __name__ == "__main__":
    main()
