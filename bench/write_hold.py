"""Write-lock hold per camera route: how long each write transaction keeps SQLite's one write lock.

Usage: nice -n 10 .venv/bin/python bench/write_hold.py [--cameras 2000] [--requests 600] [--clients 1,20]

In-process (the app under Starlette's TestClient, SQLite in WAL mode, this process's writer queue of
:mod:`vigil.core.db`), the mix of ``bench/api_load.py``: 15 % POST /api/v1/cameras, 25 % PATCH of a camera's
name and tilt, 40 % audited GET /cameras/{id}, 20 % searches. Engine events time every write transaction
(read sessions apart): *hold* runs from the end of ``BEGIN IMMEDIATE`` (the writer queue's lock taken) to
the ``COMMIT``/``ROLLBACK`` event (where the queue hands the lock on), *wait* from asking for the lock to
holding it. Each transaction is charged to the route of the request that opened it (a context variable set
by an ASGI wrapper, copied into the handler's worker thread). One row per route and client count: writes per
request, hold p50/p95/mean, the handler thread's CPU time within the hold (p50, mean: the work done under
the lock, without the time the thread waited for the GIL or the VM's other jobs), wait p50/p95, and the
request's own latency p50.

To compare two versions of the code, run this script for each, alternated, in one session
(``PYTHONPATH=/work/wt-old/src`` for the old one): the VM's speed moves from minute to minute.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextvars import ContextVar
from pathlib import Path
from typing import Any

os.environ.setdefault("VIGIL_ARGON2_PROFILE", "test")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_load import ROOT, _city  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import event  # noqa: E402

import vigil  # noqa: E402
from vigil.api.app import create_app  # noqa: E402
from vigil.core.context import Vigil  # noqa: E402
from vigil.core.ids import generate_device_id  # noqa: E402

_route: ContextVar[str] = ContextVar("route", default="other")
_READ_ONLY = "vigil_read_only"  # vigil.core.db.READ_ONLY: a read session's connection takes no write lock


class Probe:
    """Hold and wait times per route, from engine events."""

    def __init__(self, engine: Any) -> None:
        self.hold: dict[str, list[float]] = defaultdict(list)
        self.wait: dict[str, list[float]] = defaultdict(list)
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.requests: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        # the pool checkout comes just before BEGIN (a session checks a connection out per transaction);
        # "begin" listeners run after the writer queue's own (insert=True does not put one before it)
        event.listen(engine.pool, "checkout", self._asked)
        event.listen(engine, "begin", self._holding)  # the lock is held and BEGIN IMMEDIATE done
        event.listen(engine, "commit", self._done)  # just after the queue hands the lock on
        event.listen(engine, "rollback", self._done)

    def _asked(self, _dbapi: Any, record: Any, _proxy: Any) -> None:
        record.info["bench_asked"] = time.perf_counter()  # Connection.info is this record's info

    def _holding(self, conn: Any) -> None:
        asked = conn.info.pop("bench_asked", None)
        if not conn.get_execution_options().get(_READ_ONLY):
            conn.info["bench_wait"] = time.perf_counter() - asked if asked is not None else None
            conn.info["bench_held"] = time.perf_counter()
            conn.info["bench_cpu"] = time.thread_time()  # begin and commit run in the handler's one thread

    def _done(self, conn: Any) -> None:
        t, cpu = time.perf_counter(), time.thread_time()
        cpu0 = conn.info.pop("bench_cpu", None)
        wait, held = conn.info.pop("bench_wait", None), conn.info.pop("bench_held", None)
        if held is None:
            return
        route = _route.get()
        with self._lock:
            self.hold[route].append(t - held)
            if cpu0 is not None:
                self.cpu[route].append(cpu - cpu0)
            if wait is not None:
                self.wait[route].append(wait)

    def reset(self) -> None:
        with self._lock:
            for d in (self.hold, self.wait, self.cpu, self.latency):
                d.clear()
            self.requests.clear()


def _tagged(app: Any) -> Any:
    """The app, with each request's route in :data:`_route` (the worker thread gets a copy of the context)."""
    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path.startswith("/api/v1/cameras"):
                _route.set(f"{scope['method']} /cameras" + ("/{id}" if path.count("/") > 3 else ""))
        await app(scope, receive, send)
    return asgi


def _client(n: int, c: TestClient, auth: dict[str, str], ids: list[str], requests: int, probe: Probe) -> None:
    rng = random.Random(n)
    for k in range(requests):
        roll, cam = rng.random(), rng.choice(ids)
        t0 = time.perf_counter()
        if roll < 0.15:
            route = "POST /cameras"
            r = c.post("/api/v1/cameras", headers=auth,
                       json={"name": f"new {n}-{k}", "region_code": ROOT, "lon": 102.6, "lat": 25.1})
        elif roll < 0.40:
            route = "PATCH /cameras/{id}"
            r = c.patch(f"/api/v1/cameras/{cam}", headers=auth, json={"name": f"w{n}-{k}", "tilt_deg": k % 90})
        elif roll < 0.80:
            route = "GET /cameras/{id}"
            r = c.get(f"/api/v1/cameras/{cam}", headers=auth)
        else:
            route = "GET /cameras"
            r = c.get(f"/api/v1/cameras?limit=20&offset={rng.randrange(0, 1000)}", headers=auth)
        dt = time.perf_counter() - t0
        if r.status_code >= 400 and r.status_code not in (409, 412):
            raise SystemExit(f"{route}: {r.status_code} {r.text[:200]}")
        with probe._lock:
            probe.latency[route].append(dt)
            probe.requests[route] += 1


def _q(xs: list[float], p: int) -> float:
    if not xs:
        return float("nan")
    return 1000 * (statistics.quantiles(xs, n=100)[p - 1] if len(xs) > 1 else xs[0])


def run(clients: list[int], cameras: int, requests: int) -> None:
    with tempfile.TemporaryDirectory(prefix="vigil-bench-hold-") as d:
        url, home = f"sqlite:///{d}/vigil.db", f"{d}/home"
        password = _city(url, home, cameras)
        v = Vigil.open(url, home)
        probe = Probe(v.db.engine)
        ids = [generate_device_id(ROOT, i).value for i in range(1, cameras + 1)]
        print(f"vigil from {Path(vigil.__file__).parent}; {cameras} cameras; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the start")
        print(f"{'clients':>7} {'route':<20} {'req':>5} {'writes/req':>10} {'hold p50':>8} {'p95':>6} {'mean':>6} "
              f"{'cpu p50':>7} {'mean':>6} {'wait p50':>8} {'p95':>6} {'req p50':>7}  (ms)")
        with TestClient(_tagged(create_app(v))) as c:
            token = c.post("/api/v1/auth/login", json={"username": "admin", "password": password}).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            _client(999, c, auth, ids, 50, probe)  # warm-up: statement caches, first audit append
            for n in clients:
                probe.reset()
                threads = [threading.Thread(target=_client, args=(i, c, auth, ids, requests // n, probe))
                           for i in range(n)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                for route in sorted(probe.requests):
                    h, w = probe.hold.get(route, []), probe.wait.get(route, [])
                    print(f"{n:>7} {route:<20} {probe.requests[route]:>5} {len(h) / probe.requests[route]:>10.2f} "
                          f"{_q(h, 50):>8.2f} {_q(h, 95):>6.2f} {1000 * statistics.fmean(h or [0]):>6.2f} "
                          f"{_q(probe.cpu[route], 50):>7.2f} {1000 * statistics.fmean(probe.cpu[route] or [0]):>6.2f} "
                          f"{_q(w, 50):>8.2f} {_q(w, 95):>6.2f} {_q(probe.latency[route], 50):>7.2f}")
        v.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=2000)
    ap.add_argument("--requests", type=int, default=600, help="requests per row, shared among the clients")
    ap.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 20])
    args = ap.parse_args()
    run(args.clients, args.cameras, args.requests)


if __name__ == "__main__":
    main()
