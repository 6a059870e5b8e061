"""Bulk import speed: 20,547 cameras from CSV (the goal is < 10 s on 2 cores).

Prints the time of a first import (all created), a re-import (all unchanged), a dry run, and
the ratio against a baseline measured in the same run: the same cameras added one ORM object
at a time. ``--pg`` runs on a throw-away PostgreSQL server as well as SQLite.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from vigil.access.guard import Scope  # noqa: E402
from vigil.core.context import Vigil  # noqa: E402
from vigil.core.models import Camera  # noqa: E402
from vigil.registry.io import export_cameras, import_cameras, import_models, import_regions  # noqa: E402

KINDS = ["community_entrance", "gas_station", "key_site", "public_area", "high_point", "micro_checkpoint",
         "traffic_checkpoint"]


def city_files(n: int, seed: int = 7) -> tuple[bytes, bytes, bytes]:
    """Regions, models and cameras CSV for a synthetic city of ``n`` cameras (half with given IDs)."""
    rnd = random.Random(seed)
    regions = ["code,name,level,parent", "5301,Prefecture,1,", "530181,City,2,5301"]
    villages = []
    for t in range(1, 17):
        town = f"530181{t:02d}"
        regions.append(f"{town},Town {t},3,530181")
        for k in range(1, 13):
            villages.append(f"{town}{k:03d}")
            regions.append(f"{town}{k:03d},Village {t}-{k},4,{town}")
    models = "name,vendor,h_res_px,v_res_px,hfov_deg,vfov_deg,ir_range_m,form_factor,unit_cost\n" \
             "M-bullet,V,1920,1080,90,50,30,bullet,800\nM-dome,V,2560,1440,100,56,20,dome,900\n"
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "name", "region", "site", "lon", "lat", "height_m", "heading_deg", "tilt_deg", "model",
                "kind", "owner", "lifecycle", "main_url", "sub_url", "username", "password"])
    serial: dict[str, int] = {}
    for i in range(n):
        region = rnd.choice(villages)
        cid = ""
        if i % 2:
            serial[region[:8]] = serial.get(region[:8], 0) + 1
            cid = f"{region[:8]}00131{0}{serial[region[:8]]:06d}"
        w.writerow([cid, f"Camera {i}", region, "", 102.6 + rnd.random() * 0.3, 24.9 + rnd.random() * 0.3,
                    round(rnd.uniform(3, 12), 1), rnd.randrange(360), 15, rnd.choice(["M-bullet", "M-dome"]),
                    rnd.choice(KINDS), "public_security", "in_service", f"rtsp://10.{i // 65536}.{i // 256 % 256}."
                    f"{i % 256}/main", f"rtsp://10.{i // 65536}.{i // 256 % 256}.{i % 256}/sub", "admin",
                    f"pw-{rnd.getrandbits(40):x}"])
    return "\n".join(regions).encode(), models.encode(), buf.getvalue().encode()


def timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run(url: str, home: str, files: tuple[bytes, bytes, bytes], label: str) -> None:
    regions, models, cams = files
    v = Vigil.open(url, home)
    with v.db.session() as s:
        import_regions(s, regions, actor="bench", scope=Scope.everything())
        import_models(s, models, actor="bench", scope=Scope.everything())
    v.box.seal("warm-up")
    with v.db.session() as s:
        t_dry, rep = timed(lambda: import_cameras(s, cams, box=v.box, actor="bench", scope=Scope.everything(), dry_run=True))
    with v.db.session() as s:
        t_first, rep = timed(lambda: import_cameras(s, cams, box=v.box, actor="bench", scope=Scope.everything()))
    assert rep.created == rep.rows, rep
    with v.db.session() as s:
        t_again, rep2 = timed(lambda: import_cameras(s, cams, box=v.box, actor="bench", scope=Scope.everything()))
    assert rep2.unchanged == rep2.rows, rep2
    moved = cams.replace(b",15,M-", b",16,M-")  # every tilt changes
    with v.db.session() as s:
        t_upd, rep3 = timed(lambda: import_cameras(s, moved, box=v.box, actor="bench", scope=Scope.everything()))
    assert rep3.updated == rep3.rows, rep3
    with v.db.session() as s:
        t_exp = {f: timed(lambda f=f: export_cameras(s, scope=Scope.everything(), fmt=f))[0]
                 for f in ("csv", "geojson", "gpkg")}
    t_base = baseline(v, cams)
    print(f"[{label}] {rep.rows} cameras: import {t_first:.2f} s ({rep.rows / t_first:,.0f} rows/s), "
          f"re-import {t_again:.2f} s, all updated {t_upd:.2f} s, dry run {t_dry:.2f} s; goal < 10 s: {'OK' if t_first < 10 else 'MISSED'}")
    print(f"[{label}] export of {rep.rows} cameras: " + ", ".join(f"{f} {t:.2f} s" for f, t in t_exp.items()))
    print(f"[{label}] baseline (one ORM object per camera, no checks): {t_base:.2f} s; "
          f"ratio import/baseline = {t_first / t_base:.2f}")
    v.close()


def baseline(v: Vigil, cams: bytes) -> float:
    """Insert the same cameras as ORM objects one by one into an emptied table (no validation)."""
    rows = list(csv.DictReader(io.StringIO(cams.decode())))
    with v.db.session() as s:
        s.query(Camera).delete()
    t0 = time.perf_counter()
    with v.db.session() as s:
        for i, r in enumerate(rows):
            s.add(Camera(id=r["id"] or f"{r['region'][:8]}00132{0}{i:06d}", name=r["name"], region_code=r["region"],
                         lon=float(r["lon"]), lat=float(r["lat"]), height_m=float(r["height_m"]),
                         heading_deg=float(r["heading_deg"]), tilt_deg=float(r["tilt_deg"]), kind=r["kind"],
                         owner=r["owner"], lifecycle=r["lifecycle"], main_url=r["main_url"], sub_url=r["sub_url"],
                         username=r["username"], password_enc=v.box.seal(r["password"])))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, default=20547)
    ap.add_argument("--pg", action="store_true", help="also run on a throw-away PostgreSQL server")
    a = ap.parse_args()
    files = city_files(a.cameras)
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/v.db", f"{tmp}/home", files, "sqlite")
        if a.pg:
            from pgserver import PgServer

            srv = PgServer().start()
            try:
                run(srv.create_db("bench"), f"{tmp}/home-pg", files, "postgresql")
            finally:
                srv.stop()


if __name__ == "__main__":
    main()
