"""Scale-out on loopback: PostgreSQL, NATS, 2 schedulers and 2 workers (real processes) against a simulated fleet.

Checks ownership (every shard, hence every camera, held by exactly one live worker), takeover
after SIGKILL of a worker, a NATS restart losing no stored message nor state change, and the
election of the other scheduler after SIGKILL of the leader. Takeover times are printed, not asserted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import httpx
import nats
import pytest
from sqlalchemy import func, select

from pgserver import free_port
from vigil.access.bootstrap import init_instance
from vigil.core.context import Vigil
from vigil.health.models import CameraStatus, StatusChange
from vigil.sim.fleet import Fleet
from vigil.sim.register import register_fleet
from vigil.worker.assign import DEFAULT_SHARDS, shard_of
from vigil.worker.bus import STREAM
from vigil.worker.elect import LEADER_KEY
from vigil.worker.lease import LeaseTable, open_bucket
from vigil.worker.models import ShardFence
from vigil.worker.natsserver import NatsServer
from vigil.worker.procs import spawn_vigil, stop_all

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # 2 workers, 2 schedulers, 2 API nodes: `make test-slow`
TTL = 3.0


async def _until(what, check, limit=60.0, step=0.25):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        got = await check()
        if got:
            return time.monotonic() - t0
        await asyncio.sleep(step)
    raise AssertionError(f"not reached within {limit:.0f} s: {what}")


async def _holders(table):
    out = {}
    for s in range(DEFAULT_SHARDS):
        h = await table.holder(f"shard.{s}")
        out[s] = h.owner if h else None
    return out


def _probed_since(v, cams, t):
    with v.db.session() as s:
        rows = dict(s.execute(select(CameraStatus.camera_id, CameraStatus.last_probe_at)
                              .where(CameraStatus.camera_id.in_(cams))).all())
    return all(rows.get(c) is not None and rows[c].timestamp() > t for c in cams)


def _fences(v):
    with v.db.session() as s:
        return dict(s.execute(select(ShardFence.shard, ShardFence.worker)).all())


def _downs(v, cam):
    with v.db.session() as s:
        return s.scalar(select(func.count()).select_from(StatusChange).where(
            StatusChange.camera_id == cam, StatusChange.state == "down"))


async def test_workers_schedulers_and_nats_fail_over(pg_server, tmp_path):
    v = Vigil.open(pg_server.create_db(f"scale{os.getpid()}"), str(tmp_path / "home"))
    admin = init_instance(v, root_code="5301", root_name="Pref")
    srv = NatsServer(tmp_path / "nats").start()
    env = {**os.environ, "VIGIL_LEASE_TTL": str(TTL), "VIGIL_NATS": srv.url}
    common = ["--db", v.settings.db_url, "--home", str(v.settings.home)]
    log = open(tmp_path / "procs.log", "wb")  # noqa: SIM115
    procs: list[subprocess.Popen] = []
    nc = None
    try:
        async with Fleet(40, seed=3) as fleet:
            cams = register_fleet(v, fleet.manifest()["cameras"])
            index = dict(zip(cams, range(len(cams)), strict=True))
            for _ in range(2):
                procs.append(spawn_vigil(["serve", "--role", "scheduler", *common], env, log))
            apis = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
            for base in apis:
                port = base.rsplit(":", 1)[1]
                procs.append(spawn_vigil(["serve", "--role", "api", "--port", port, *common], env, log))
            workers = {n: spawn_vigil(["worker", "--name", n, "--probe-interval", "1", "--probe-timeout", "1",
                                       *common], env, log) for n in ("w1", "w2")}
            procs += workers.values()
            nc = await nats.connect(srv.url, max_reconnect_attempts=-1, reconnect_time_wait=0.3)
            table = LeaseTable(await open_bucket(nc.jetstream(), ttl=TTL), "test", ttl=TTL)

            # 1. every shard held by exactly one of the two workers, and both hold some
            async def balanced():
                hs = await _holders(table)
                return set(hs.values()) == {"w1", "w2"} and hs
            await _until("both workers own shards", balanced)
            owners = await _holders(table)
            by_cam = {c: owners[shard_of(c)] for c in cams}
            assert all(o in ("w1", "w2") for o in by_cam.values())
            t_start = time.time()
            await _until("every camera probed", lambda: asyncio.to_thread(_probed_since, v, cams, t_start))
            # what the writer stored for each camera's shard came from that shard's lease holder
            used = {shard_of(c) for c in cams}
            await _until("fences name the lease holders", lambda: asyncio.to_thread(
                lambda: {k: w for k, w in _fences(v).items() if k in used} == {k: owners[k] for k in used}))

            # 2. SIGKILL w1: its cameras are probed again by w2
            lost = [c for c, o in by_cam.items() if o == "w1"]
            assert lost
            workers["w1"].send_signal(signal.SIGKILL)
            t_kill = time.time()

            async def taken_over():
                return set((await _holders(table)).values()) == {"w2"}
            own_s = await _until("w2 owns every shard", taken_over)
            probe_s = await _until("w1's cameras probed again",
                                   lambda: asyncio.to_thread(_probed_since, v, lost, t_kill))
            print(f"\ntakeover after SIGKILL: all shards owned by w2 after {own_s:.1f} s, "
                  f"w1's {len(lost)} cameras probed again after {probe_s + own_s:.1f} s (TTL {TTL:.0f} s)")

            # 3. NATS restart: what the stream stored survives, and a state change made meanwhile arrives once
            js = nc.jetstream()
            before = (await js.stream_info(STREAM)).state.last_seq
            victim = lost[0]
            await fleet.set_faults(index[victim], ["refused"])
            srv.stop()
            await asyncio.sleep(1.0)
            srv.start()
            await _until("the stream is back", lambda: _stream_ok(js))
            assert (await js.stream_info(STREAM)).state.last_seq >= before
            await _until("the refused camera is down", lambda: asyncio.to_thread(_downs, v, victim))
            await asyncio.sleep(2 * TTL)  # redeliveries, if any, are deduped
            assert await asyncio.to_thread(_downs, v, victim) == 1

            # 4. SIGKILL the leading scheduler: the other is elected and the writer keeps writing
            leader = await table.holder(LEADER_KEY)
            assert leader is not None
            pid = int(leader.owner.rsplit("-", 1)[1])
            first = next(p for p in procs if p.pid == pid)
            first.send_signal(signal.SIGKILL)

            async def re_elected():
                h = await table.holder(LEADER_KEY)
                return h is not None and h.owner != leader.owner and h.token > leader.token
            elect_s = await _until("another scheduler elected", re_elected)
            other = cams[1] if cams[1] != victim else cams[2]
            await fleet.set_faults(index[other], ["refused"])
            await _until("the new leader stores state changes", lambda: asyncio.to_thread(_downs, v, other))
            print(f"scheduler re-elected {elect_s:.1f} s after SIGKILL of the leader")

            # 5. the two API nodes answer alike (one login works on both: they share only the database)
            await asyncio.to_thread(_api_nodes_agree, apis, admin.password, {victim, other})
    finally:
        stop_all(procs)
        if nc is not None:
            await nc.close()
        srv.stop()
        log.close()
        v.close()


def _api_nodes_agree(apis, password, down):
    for base in apis:
        for _ in range(120):
            try:
                httpx.get(base + "/api/v1/auth/me", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.25)
    tok = httpx.post(apis[0] + "/api/v1/auth/login", json={"username": "admin", "password": password}).json()
    hdr = {"Authorization": f"Bearer {tok['token']}"}
    for _ in range(20):  # a write may land between the two reads: read both again
        a, b = (httpx.get(base + "/api/v1/health/status", headers=hdr, timeout=5) for base in apis)
        assert a.status_code == b.status_code == 200
        if a.json() == b.json():
            break
        time.sleep(0.5)
    assert a.json() == b.json()
    assert {d["camera_id"] for d in a.json()["down"]} == down


async def _stream_ok(js):
    try:
        await js.stream_info(STREAM)
        return True
    except Exception:
        return False
