"""API load benchmark: requests/s and p50/p95/p99 latency for 1, 20 and 100 clients on SQLite and PostgreSQL.

Usage: nice -n 10 .venv/bin/python bench/api_load.py [--cameras 2000] [--seconds 10] [--clients 1,20,100] [--no-pg]
       [--workers 1]

Starts a real ``vigil serve`` (uvicorn, one process by default, ``--workers N`` processes on the port, on
127.0.0.1) on a city of N cameras, then runs
client threads, each with its own keep-alive connection, for a fixed time with the issue's mix:
15 % creates (server-generated IDs), 25 % PATCHes of a camera's name and tilt, 60 % reads (audited
camera detail, searches). The 1-client run is the baseline, measured in the same run; each row
prints its throughput and p95 against it, and counts 5xx (503 apart: busy, answered with Retry-After),
other unexpected answers, 409/412 (lost races, retryable) and connection errors. The last column is the
server's CPU time per request (its processes' user + system, from /proc): on a shared machine it moves less
with the other jobs than the latencies do; beside it, the load generator's own CPU time per request (it
shares the machine). The load average at the start is printed above the table.

The clients are plain ``http.client`` connections (one keep-alive connection per client thread, opened
again only after the server closed it); until December 2026 they were ``httpx.Client`` objects, which cost
about 2 CPU ms per request on the same cores. The mix, the bodies and the per-client keep-alive are unchanged.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("VIGIL_ARGON2_PROFILE", "test")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import httpx  # noqa: E402

from vigil.access.bootstrap import init_instance  # noqa: E402
from vigil.core.context import Vigil  # noqa: E402
from vigil.core.ids import generate_device_id  # noqa: E402
from vigil.core.models import Camera  # noqa: E402

ROOT = "5301"


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    conn_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _city(url: str, home: str, cameras: int) -> str:
    v = Vigil.open(url, home)
    res = init_instance(v, root_code=ROOT, root_name="昆明市")
    with v.db.session() as s:
        s.add_all(Camera(id=generate_device_id(ROOT, i).value, name=f"cam {i}", region_code=ROOT,
                         lon=102.5 + (i % 100) / 1000, lat=25.0 + (i // 100) / 1000, lifecycle="in_service")
                  for i in range(1, cameras + 1))
    v.close()
    return res.password


def _serve(url: str, home: str, workers: int = 1) -> tuple[subprocess.Popen, str]:
    port = _port()
    env = {**os.environ, "VIGIL_HOME": home, "VIGIL_DB": url}
    proc = subprocess.Popen([sys.executable, "-m", "vigil", "serve", "--port", str(port), "--no-scheduler",
                             "--no-analytics", "--workers", str(workers)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/api/v1/auth/me", timeout=1)
            if len(list(Path(home, "run").glob("api-worker-*.sock"))) >= workers - 1:  # every worker is up
                time.sleep(1 if workers > 1 else 0)
                return proc, base
            time.sleep(0.2)
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("vigil serve did not come up")


def _client(n: int, base: str, token: str, ids: list[str], stop: float, run: Run) -> None:
    """One client: a keep-alive connection of its own (``http.client``: far less CPU per request than httpx)."""
    rng = random.Random(n)
    k = 0
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    auth = {"Authorization": f"Bearer {token}"}
    writes = {**auth, "Content-Type": "application/json"}
    while time.monotonic() < stop:
        k += 1
        roll, cam = rng.random(), rng.choice(ids)
        t0 = time.perf_counter()
        try:
            if roll < 0.15:
                body = json.dumps({"name": f"new {n}-{k}", "region_code": ROOT, "lon": 102.6, "lat": 25.1})
                conn.request("POST", "/api/v1/cameras", body, writes)
            elif roll < 0.40:
                conn.request("PATCH", f"/api/v1/cameras/{cam}", json.dumps({"name": f"w{n}-{k}", "tilt_deg": k % 90}),
                             writes)
            elif roll < 0.80:
                conn.request("GET", f"/api/v1/cameras/{cam}", headers=auth)
            else:
                conn.request("GET", f"/api/v1/cameras?limit=20&offset={rng.randrange(0, 1000)}", headers=auth)
            r = conn.getresponse()
            r.read()
        except (OSError, http.client.HTTPException):
            conn.close()  # reconnects on the next request
            with run.lock:
                run.conn_errors += 1
            continue
        dt = time.perf_counter() - t0
        with run.lock:
            run.latencies.append(dt)
            run.statuses[r.status] = run.statuses.get(r.status, 0) + 1
        if r.will_close:
            conn.close()
    conn.close()


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process ``pid`` and its children (the API workers) have used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    kids = Path(f"/proc/{pid}/task/{pid}/children")
    return own + sum(_cpu_s(int(k)) for k in (kids.read_text().split() if kids.exists() else [])
                     if Path(f"/proc/{k}").exists())


def _own_cpu_s() -> float:
    """CPU seconds (user + system) this process, the load generator, has used so far."""
    t = os.times()
    return t.user + t.system


def _measure(base: str, token: str, ids: list[str], clients: int, seconds: float, pid: int) -> dict[str, float]:
    run = Run()
    cpu0, own0 = _cpu_s(pid), _own_cpu_s()
    stop = time.monotonic() + seconds
    threads = [threading.Thread(target=_client, args=(n, base, token, ids, stop, run)) for n in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu, own = _cpu_s(pid) - cpu0, _own_cpu_s() - own0
    lat = sorted(run.latencies) or [0.0]
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
    st = run.statuses
    return {"rps": len(run.latencies) / wall, "p50": q[49] * 1000, "p95": q[94] * 1000, "p99": q[98] * 1000,
            "n": len(lat), "5xx": sum(v for s, v in st.items() if s >= 500 and s != 503), "503": st.get(503, 0),
            "races": st.get(409, 0) + st.get(412, 0),
            "other": sum(v for s, v in st.items() if s not in (200, 201, 409, 412) and s < 500),
            "conn": run.conn_errors, "cpu_ms": 1000 * cpu / max(1, len(run.latencies)),
            "client_ms": 1000 * own / max(1, len(run.latencies))}


def bench(name: str, url: str, args: argparse.Namespace) -> None:
    home = tempfile.mkdtemp(prefix="vigil-bench-home-")
    password = _city(url, home, args.cameras)
    proc, base = _serve(url, home, args.workers)
    try:
        token = httpx.post(base + "/api/v1/auth/login", json={"username": "admin", "password": password}).json()["token"]
        ids = [generate_device_id(ROOT, i).value for i in range(1, args.cameras + 1)]
        base_row = None
        load = os.getloadavg()[0]
        print(f"\n{name}: {args.cameras} cameras, {args.seconds:.0f} s per row, {args.workers} server process(es) "
              f"(load average {load:.1f} on {os.cpu_count()} CPUs at the start)")
        print(f"{'clients':>7} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'x rps':>6} {'x p95':>6} "
              f"{'5xx':>4} {'503':>4} {'other':>5} {'409/412':>7} {'conn':>4} {'srv CPU ms/req':>14} {'client CPU ms/req':>17}")
        for n in args.clients:
            m = _measure(base, token, ids, n, args.seconds, proc.pid)
            base_row = base_row or m
            print(f"{n:>7} {m['rps']:>8.0f} {m['p50']:>7.1f} {m['p95']:>7.1f} {m['p99']:>7.1f} "
                  f"{m['rps'] / base_row['rps']:>6.2f} {m['p95'] / base_row['p95']:>6.2f} {m['5xx']:>4} {m['503']:>4} "
                  f"{m['other']:>5} {m['races']:>7} {m['conn']:>4} {m['cpu_ms']:>14.2f} {m['client_ms']:>17.2f}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 20, 100])
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    ap.add_argument("--workers", type=int, default=1, help="vigil serve --workers (processes on the port)")
    args = ap.parse_args()
    if args.clients[0] != 1:
        args.clients = [1, *args.clients]  # the single-client baseline is always measured first
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as d:
        bench("SQLite", f"sqlite:///{d}/vigil.db", args)
    if not args.no_pg:
        from pgserver import PgServer

        srv = PgServer().start()
        try:
            bench("PostgreSQL", srv.create_db("bench_api_load"), args)
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
