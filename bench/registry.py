"""Registry benchmark: bulk import of the 20,547-camera demo city, filtered API pages, four-level rollups.

Each figure is printed beside a baseline measured in the same run:
- import: the bulk importer vs creating cameras one by one through the registry service (the API path),
  timed on a sample and extrapolated;
- API page: p50/p95 of filtered, paginated /api/v1/cameras requests over real HTTP (uvicorn + httpx) vs the
  same page computed by loading the scope's cameras and filtering in Python;
- rollup: the grouped-SQL rollup at each of the four levels vs counting loaded rows in Python.

Usage: python bench/registry.py [--db URL | --pg] [--requests 300]   (--pg: a throw-away PostgreSQL server)
Goals (2 cores): import < 10 s; filtered page p95 < 50 ms; four-level rollup < 100 ms.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import delete, func, select

from vigil.access.bootstrap import init_instance
from vigil.access.guard import Scope
from vigil.access.users import issue_token, principal_of
from vigil.api.app import create_app
from vigil.core.context import Vigil
from vigil.core.models import AuditEntry, Camera, User
from vigil.demo.city import build_demo_city
from vigil.registry.cameras import CameraQuery, create_camera, list_cameras, rollup
from vigil.registry.io_cameras import import_cameras
from vigil.registry.io_export import export_cameras
from vigil.registry.schemas import CameraIn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_import(v: Vigil) -> dict[str, float]:
    with v.db.session() as s:
        csv = export_cameras(s, scope=Scope.everything(), fmt="csv", box=v.box, include_secrets=True, actor="bench")
        s.execute(delete(Camera))
    t0 = time.perf_counter()
    with v.db.session() as s:
        rep = import_cameras(s, csv, box=v.box, actor="bench", scope=Scope.everything(), name="cameras.csv")
    t_bulk = time.perf_counter() - t0
    assert rep.created == 20547 or rep.rows == rep.created, rep
    t0 = time.perf_counter()
    with v.db.session() as s:
        rep2 = import_cameras(s, csv, box=v.box, actor="bench", scope=Scope.everything(), name="cameras.csv")
    t_again = time.perf_counter() - t0
    # baseline: one create_camera per row through the registry service (sample of 300, extrapolated)
    with v.db.session() as s:
        admin = principal_of(s.scalar(select(User).where(User.name == "admin")))
        sample = s.execute(select(Camera).limit(300)).scalars().all()
        rows = [CameraIn(name=c.name, region_code=c.region_code, lon=c.lon, lat=c.lat, kind=c.kind,
                         lifecycle="in_service", password="pw-bench") for c in sample]
    t0 = time.perf_counter()
    for r in rows:
        with v.db.session() as s:
            create_camera(s, admin, r, v.box)
    t_one = (time.perf_counter() - t0) / len(rows)
    return {"rows": rep.rows, "bulk_s": t_bulk, "reimport_s": t_again, "reimport_changed": rep2.created + rep2.updated,
            "baseline_s": t_one * 20547}


def bench_api(v: Vigil, n: int) -> dict[str, float]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(v), host="127.0.0.1", port=port, log_level="error"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.05)
    with v.db.session() as s:
        admin = s.scalar(select(User).where(User.name == "admin"))
        token = issue_token(s, admin)
        p = principal_of(admin)
    towns = [f"530181{i:02d}" for i in range(1, 17)]
    kinds = ["public_area", "community_entrance", "key_site", "traffic_checkpoint", None]
    rng = random.Random(3)
    lat_api, lat_naive = [], []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}) as c:
        for i in range(n):
            params = {"region": rng.choice(towns), "lifecycle": "in_service", "limit": 50,
                      "offset": rng.choice([0, 50, 100, 200])}
            kind = rng.choice(kinds)
            if kind:
                params["kind"] = kind
            t0 = time.perf_counter()
            r = c.get("/api/v1/cameras", params=params)
            lat_api.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
            if i < 30:  # the naive baseline is slow: a smaller sample
                t0 = time.perf_counter()
                with v.db.session() as s:
                    allc = s.scalars(select(Camera)).all()
                    hits = [x for x in allc if x.region_code.startswith(params["region"])
                            and x.lifecycle == "in_service" and (not kind or x.kind == kind)]
                    hits.sort(key=lambda x: x.id)
                    _ = hits[params["offset"]:params["offset"] + 50]
                lat_naive.append(time.perf_counter() - t0)
    server.should_exit = True
    th.join(5)
    # the library call itself, without HTTP
    t0 = time.perf_counter()
    with v.db.session() as s:
        for _ in range(50):
            list_cameras(s, p, CameraQuery(region=rng.choice(towns), limit=50))
    lib = (time.perf_counter() - t0) / 50
    q = statistics.quantiles(lat_api, n=20)
    return {"p50_ms": statistics.median(lat_api) * 1e3, "p95_ms": q[18] * 1e3, "lib_ms": lib * 1e3,
            "naive_p50_ms": statistics.median(lat_naive) * 1e3}


def bench_rollup(v: Vigil) -> dict[str, float]:
    with v.db.session() as s:
        p = principal_of(s.scalar(select(User).where(User.name == "admin")))
        out = {}
        village = s.scalar(select(Camera.region_code).where(func.length(Camera.region_code) == 11).limit(1))
        for label, code in (("prefecture", "5301"), ("city", "530181"), ("town", village[:8]),
                            ("village", village)):
            t0 = time.perf_counter()
            r = rollup(s, p, code)
            out[label] = (time.perf_counter() - t0) * 1e3
            assert r["total"] > 0
        t0 = time.perf_counter()
        rows = s.execute(select(Camera.region_code, Camera.kind, Camera.owner, Camera.lifecycle)).all()
        Counter((r[0][:8], r[1], r[2], r[3]) for r in rows)
        out["naive_city"] = (time.perf_counter() - t0) * 1e3
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    ap.add_argument("--pg", action="store_true", help="run on a throw-away PostgreSQL server (Debian's package)")
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    srv = None
    if args.pg:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from pgserver import PgServer

        srv = PgServer().start()
        args.db = srv.create_db("bench")
    try:
        run(args, tmp)
    finally:
        if srv is not None:
            srv.stop()


def run(args: argparse.Namespace, tmp: Path) -> None:
    v = Vigil.open(args.db or f"sqlite:///{tmp / 'vigil.db'}", str(tmp))
    init_instance(v, root_code="5301", root_name="昆明市")
    t0 = time.perf_counter()
    build_demo_city(v)
    print(f"demo city built in {time.perf_counter() - t0:.1f} s on {v.db.dialect}")
    imp = bench_import(v)
    print(f"import {imp['rows']:,} cameras: {imp['bulk_s']:.2f} s (goal < 10 s); re-import of the same file "
          f"{imp['reimport_s']:.2f} s with {imp['reimport_changed']} changes")
    print(f"  baseline one-by-one create (extrapolated): {imp['baseline_s']:.1f} s -> bulk is "
          f"{imp['baseline_s'] / imp['bulk_s']:.1f}x faster")
    api = bench_api(v, args.requests)
    print(f"filtered page over HTTP: p50 {api['p50_ms']:.1f} ms, p95 {api['p95_ms']:.1f} ms (goal p95 < 50 ms); "
          f"library call {api['lib_ms']:.1f} ms")
    print(f"  baseline load-and-filter in Python: p50 {api['naive_p50_ms']:.1f} ms -> "
          f"{api['naive_p50_ms'] / api['p50_ms']:.1f}x")
    ru = bench_rollup(v)
    print("rollup: " + ", ".join(f"{k} {ru[k]:.1f} ms" for k in ("prefecture", "city", "town", "village"))
          + " (goal < 100 ms each)")
    print(f"  baseline load-and-count in Python (whole city): {ru['naive_city']:.1f} ms -> "
          f"{ru['naive_city'] / ru['city']:.1f}x")
    with v.db.session() as s:
        n_audit = len(s.scalars(select(AuditEntry.seq)).all())
    print(f"audit entries written: {n_audit}")
    v.close()


if __name__ == "__main__":
    main()
