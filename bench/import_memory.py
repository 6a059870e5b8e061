"""Server memory for one large camera import over HTTP (the goal is < 500 MB for a 200 MiB file).

Generates a camera CSV of ``--mib`` MiB (a synthetic city, half the rows with IDs) in a temporary
folder, starts a real ``uvicorn`` server in a child process, uploads the file to
``/api/v1/import/cameras`` and prints the server's peak resident memory (``VmHWM``) and its growth
over the idle server, with the import's time. The baseline is the same run against the code of
:data:`BASELINE`, the last commit whose importer read the whole upload into memory (extracted with
``git archive`` into the temporary folder), so the ratio compares like with like.
Run it under ``nice``: ``nice -n 10 .venv/bin/python bench/import_memory.py --mib 199``.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from registry_import import KINDS, city_files  # noqa: E402

#: the last commit that read an import whole (before the streaming importer)
BASELINE = "eed69aa"

SERVER = r"""
import sys
import uvicorn
import vigil
from vigil.access.guard import Scope
from vigil.access.users import add_user, issue_token
from vigil.api.app import create_app
from vigil.core.context import Vigil
from vigil.registry.io import import_models, import_regions

db, home, regions, models, port = sys.argv[1:]
v = Vigil.open(db, home)
with v.db.session() as s:
    import_regions(s, open(regions, "rb").read(), actor="bench", scope=Scope.everything())
    import_models(s, open(models, "rb").read(), actor="bench", scope=Scope.everything())
    print(issue_token(s, add_user(s, "bench", "a-long-password", "admin", ["5301"])), vigil.__file__, flush=True)
uvicorn.run(create_app(v), host="127.0.0.1", port=int(port), log_level="warning")
"""


def camera_file(path: Path, mib: float, villages: list[str], seed: int = 7) -> int:
    """Write a camera CSV of about ``mib`` MiB to ``path``; return its row count."""
    rnd = random.Random(seed)
    serial: dict[str, int] = {}
    n = 0
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "region", "site", "lon", "lat", "height_m", "heading_deg", "tilt_deg", "model",
                    "kind", "owner", "lifecycle", "main_url", "sub_url", "username", "password"])
        while f.tell() < mib * 2**20 - 4096:
            region = rnd.choice(villages)
            cid = ""
            if n % 2:
                serial[region[:8]] = serial.get(region[:8], 0) + 1
                cid = f"{region[:8]}001310{serial[region[:8]]:06d}"
            ip = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
            w.writerow([cid, f"Camera {n}", region, "", 102.6 + rnd.random() * 0.3, 24.9 + rnd.random() * 0.3,
                        round(rnd.uniform(3, 12), 1), rnd.randrange(360), 15, rnd.choice(["M-bullet", "M-dome"]),
                        rnd.choice(KINDS), "public_security", "in_service", f"rtsp://{ip}/main",
                        f"rtsp://{ip}/sub", "admin", f"pw-{rnd.getrandbits(40):x}"])
            n += 1
    return n


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(key)


def measure(label: str, src: Path, tmp: Path, files: tuple[Path, Path, Path]) -> tuple[float, float, float]:
    """Serve the code under ``src``, upload the camera file; return (peak MB, growth MB, seconds)."""
    regions, models, cams = files
    home = tmp / f"home-{label}"
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(src))
    proc = subprocess.Popen([sys.executable, "-c", SERVER, f"sqlite:///{home}.db", str(home), str(regions),
                             str(models), str(port)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        token, where = proc.stdout.readline().split()  # type: ignore[union-attr]
        assert where.startswith(str(src)), f"{label} server runs {where}, not the code under {src}"
        url = f"http://127.0.0.1:{port}/api/v1/import/cameras"
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        idle = _kib(proc.pid, "VmRSS") / 1024
        t0 = time.perf_counter()
        with cams.open("rb") as f:
            r = httpx.post(url, files={"file": ("cameras.csv", f, "text/csv")},
                           headers={"Authorization": f"Bearer {token}"}, timeout=None)
        took = time.perf_counter() - t0
        assert r.status_code == 200, r.text[:500]
        peak = _kib(proc.pid, "VmHWM") / 1024
        print(f"[{label}] {r.json()['created']:,} cameras created in {took:.1f} s; server peak RSS {peak:,.0f} MB "
              f"(idle {idle:,.0f} MB, growth {peak - idle:,.0f} MB)", flush=True)
        return peak, peak - idle, took
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=float, default=199, help="size of the camera file (at most 200)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the run of the old in-memory importer")
    a = ap.parse_args()
    regions_csv, models_csv, _ = city_files(1)
    villages = [r.split(",")[0] for r in regions_csv.decode().splitlines()[1:] if len(r.split(",")[0]) == 11]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        files = (tmp / "regions.csv", tmp / "models.csv", tmp / "cameras.csv")
        files[0].write_bytes(regions_csv)
        files[1].write_bytes(models_csv)
        rows = camera_file(files[2], a.mib, villages)
        print(f"camera file: {files[2].stat().st_size / 2**20:.1f} MiB, {rows:,} rows", flush=True)
        now = measure("streaming", ROOT / "src", tmp, files)
        print(f"goal < 500 MB for the import: growth {now[1]:,.0f} MB {'OK' if now[1] < 500 else 'MISSED'}; "
              f"whole server peak {now[0]:,.0f} MB {'OK' if now[0] < 500 else 'MISSED'}")
        if a.no_baseline:
            return
        old = tmp / "baseline"
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE, "src"], check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(old, filter="data")
        base = measure(f"baseline {BASELINE}", old / "src", tmp, files)
        print(f"peak RSS streaming/baseline = {now[0] / base[0]:.2f} (growth {now[1] / base[1]:.2f}); "
              f"time streaming/baseline = {now[2] / base[2]:.2f}")


if __name__ == "__main__":
    main()
