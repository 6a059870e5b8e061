"""Benchmark: one full probe sweep of a simulated city (20,547 cameras on loopback) vs one ffprobe per camera.

    .venv/bin/python bench/probe.py [--cameras 20547] [--concurrency 1000] [--timeout 3] [--faults mix:2%]
                                    [--sample 200]

1. A fleet of N cameras is started (child processes, one 127.X.y.z address per camera); the first
   ``--sample`` cameras also stream real H.264 so that ffprobe can read them.
2. The cameras are registered in a fresh SQLite registry and ``vigil.health.probe.sweep`` runs
   twice: target loading, credential decryption, probing and state storage all count.
3. Baseline: one ``ffprobe`` per camera, on the sample cameras, at the same concurrency (capped at
   the sample size), with the same per-camera timeout. Its time for the whole fleet is
   extrapolated two ways, and the smaller (kinder to ffprobe) is used: linearly from wall time,
   t_sample * N / sample, and from CPU, cpu_per_ffprobe * N / cores, which no concurrency can beat.
   The prober's own time on the same sample at the same concurrency is printed beside it.

The machine's load is printed too: on a shared machine, wall times stretch; the CPU seconds of
the prober and of the fleet processes do not.
Goals: a full sweep < 15 s on 2 cores; ratio >= 20x.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from vigil.core.context import Vigil
from vigil.health.probe import ProbeTarget, probe_targets, sweep
from vigil.sim.faults import EXPECTED_REASON
from vigil.sim.fleet import Fleet
from vigil.sim.register import register_fleet


def _cpu(pids: list[int] = ()) -> float:
    """CPU seconds of this process, plus those of ``pids`` (the fleet's shard processes)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    total = r.ru_utime + r.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _busy() -> float:
    """Share of all CPUs busy since boot-relative sample (from /proc/stat), for load context."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(f) - f[3] - f[4], sum(f)


async def _ffprobe(url: str, timeout: float) -> bool:
    proc = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-timeout", str(int(timeout * 1e6)),
        "-show_entries", "stream=codec_name", "-of", "csv=p=0", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout + 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return False
    return proc.returncode == 0 and b"h264" in out


async def _ffprobe_all(urls: list[str], concurrency: int, timeout: float) -> tuple[float, int]:
    sem = asyncio.Semaphore(concurrency)

    async def one(u: str) -> bool:
        async with sem:
            return await _ffprobe(u, timeout)

    t0 = time.perf_counter()
    ok = await asyncio.gather(*(one(u) for u in urls))
    return time.perf_counter() - t0, sum(ok)


def _expected(fleet: Fleet) -> dict[int, str]:
    out = {}
    for c in fleet.cameras:
        conn = [f for f in c.faults if f in EXPECTED_REASON]
        out[c.index] = EXPECTED_REASON[conn[0]] if len(conn) == 1 else ("online" if not conn else "?")
    return out


async def main(a: argparse.Namespace) -> None:
    print(f"cpus: {os.cpu_count()} (affinity {len(os.sched_getaffinity(0))}), python {sys.version.split()[0]}, "
          f"loop {type(asyncio.get_running_loop()).__module__}")
    t = time.perf_counter()
    fleet = Fleet(a.cameras, streams=a.sample, faults=a.faults, seed=1, workers=a.workers)
    await fleet.start()
    print(f"fleet: {a.cameras} cameras, {sum(1 for c in fleet.cameras if c.faults)} with faults ({a.faults}), "
          f"{a.sample} streaming, {len(fleet._procs)} shard processes, started in {time.perf_counter() - t:.1f} s")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            v = Vigil.open(f"sqlite:///{tmp}/vigil.db", f"{tmp}/home")
            from vigil.access.bootstrap import init_instance

            init_instance(v, root_code="350582", root_name="Bench City", admin="admin")
            ids = register_fleet(v, fleet.manifest()["cameras"])
            await _sweeps(a, v, fleet, ids)
            v.close()
        await _baseline(a, fleet)
    finally:
        await fleet.stop()


async def _sweeps(a: argparse.Namespace, v: Vigil, fleet: Fleet, ids: list[str]) -> None:
    expected = _expected(fleet)
    for n in (1, 2):
        c0, f0, b0, t0 = _cpu(), _cpu(fleet.pids) - _cpu(), _busy(), time.perf_counter()
        rep = await sweep(v, concurrency=a.concurrency, timeout=a.timeout)
        wall = time.perf_counter() - t0
        b1 = _busy()
        prober, fl = _cpu() - c0, _cpu(fleet.pids) - _cpu() - f0
        a.sweep_s = min(getattr(a, "sweep_s", wall), wall)
        by_id = {r.key: r.label for r in rep.results}
        wrong = sum(1 for i, cid in enumerate(ids) if expected[i] != "?" and by_id[cid] != expected[i])
        print(f"sweep {n}: {rep.probed} cameras in {wall:.2f} s ({rep.probed / wall:,.0f}/s); CPU: prober "
              f"{prober:.1f} s, fleet {fl:.1f} s; machine busy {100 * (b1[0] - b0[0]) / (b1[1] - b0[1]):.0f} %")
        cores = len(os.sched_getaffinity(0))
        floor = max(prober, (prober + fl) / cores, a.timeout)
        a.floor_s = min(getattr(a, "floor_s", floor), floor)
        print(f"         lower bound on an otherwise idle machine: max(prober CPU {prober:.1f}, all CPU "
              f"{prober + fl:.1f} / {cores} cores, timeout {a.timeout:g}) = {floor:.1f} s")
        print(f"         online {rep.online}, down {dict(sorted(rep.down.items()))}; {len(rep.changes)} state "
              f"changes stored; misclassified {wrong}")


async def _baseline(a: argparse.Namespace, fleet: Fleet) -> None:
    sample = fleet.cameras[:a.sample]
    conc = min(a.concurrency, len(sample))
    targets = [ProbeTarget(c.url, c.username, c.password, key=str(c.index)) for c in sample]
    t0 = time.perf_counter()
    await probe_targets(targets, concurrency=conc, timeout=a.timeout)
    ours = time.perf_counter() - t0
    urls = [c.url.replace("rtsp://", f"rtsp://{c.username}:{c.password}@") for c in sample]
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ff, ok = await _ffprobe_all(urls, conc, a.timeout)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ff_cpu = (kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime) / len(sample)
    cores = len(os.sched_getaffinity(0))
    by_wall = ff / len(sample) * a.cameras
    by_cpu = ff_cpu * a.cameras / cores
    extrapolated = min(by_wall, by_cpu)
    print(f"sample: {len(sample)} cameras at concurrency {conc}: prober {ours:.2f} s, ffprobe {ff:.2f} s "
          f"({ok} read H.264; {ff_cpu * 1000:.0f} ms CPU per ffprobe)")
    print(f"ffprobe for all {a.cameras} cameras, extrapolated: by wall time {ff:.2f} s x {a.cameras} / "
          f"{len(sample)} = {by_wall:.0f} s; by CPU (a floor at any concurrency) {ff_cpu:.3f} s x {a.cameras} / "
          f"{cores} cores = {by_cpu:.0f} s; using the smaller, {extrapolated:.0f} s")
    print(f"RESULT full sweep {a.sweep_s:.2f} s measured (goal < 15 s; idle-machine lower bound {a.floor_s:.1f} s); "
          f"ratio vs ffprobe {extrapolated / a.sweep_s:.0f}x measured (goal >= 20x; "
          f"{by_cpu / a.floor_s:.0f}x CPU floor vs CPU floor)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cameras", type=int, default=20547)
    p.add_argument("--concurrency", type=int, default=1000)
    p.add_argument("--timeout", type=float, default=3.0)
    p.add_argument("--faults", default="mix:2%")
    p.add_argument("--sample", type=int, default=200)
    p.add_argument("--workers", type=int, default=None)
    args = p.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    try:
        import uvloop

        uvloop.run(main(args))
    except ImportError:
        asyncio.run(main(args))
