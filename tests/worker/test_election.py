"""The scheduler election notices a dead leader by its heartbeats, not its TTL, and fences the old term.

The TTL is 15 s (the maximum) throughout: a standby that wins by a compare-and-swap on the key
the silent leader still holds (``taken_over``) has not waited for the key to expire.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import nats
import pytest

from vigil.access.bootstrap import init_instance
from vigil.worker.elect import LEADER_KEY, Elector, LeaderFence
from vigil.worker.fence import SCHEDULER_FENCE, FencedOff, fenced_vigil
from vigil.worker.lease import LeaseTable, open_bucket
from vigil.worker.models import ShardFence
from vigil.worker.procs import spawn_vigil, stop_all

TTL = 15.0


async def _until(what, check, limit=60.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not reached within {limit:.0f} s: {what}")


def _fence(v):
    with v.db.session() as s:
        f = s.get(ShardFence, SCHEDULER_FENCE)
        return None if f is None else (f.token, f.worker)


def _write_with(v, gate):
    """A leader service's write (an empty transaction is enough: the fence is checked first)."""
    with fenced_vigil(v, gate).db.session() as s:
        s.get(ShardFence, SCHEDULER_FENCE)


async def test_a_silent_leader_is_replaced_by_swap_and_its_writes_are_refused(vigil, nats_server):
    def services(e):
        return [LeaderFence(vigil, e)]

    a = Elector(nats_url=nats_server.url, make_services=services, name="sched-a", ttl=TTL)
    b = Elector(nats_url=nats_server.url, make_services=services, name="sched-b", ttl=TTL)
    await a.start()
    try:
        await _until("a leads", lambda: asyncio.sleep(0, a.leading))
        await b.start()
        await _until("b has read and heard the leader", lambda: asyncio.sleep(0, b._leader is not None and (
            b._leader.owner == "sched-a" and b._hb.liveness.heard_of("sched-a"))))
        assert not b.leading and await asyncio.to_thread(_fence, vigil) == (a.token, "sched-a")
        # a is paused: no beats, no rounds; it still believes it leads (as a process stopped mid-term would)
        await a._hb.stop()
        a._watch.cancel()
        await a._loop.stop()
        a._lease.deadline = float("inf")
        await _until("b leads", lambda: asyncio.sleep(0, b.leading))
        assert b.taken_over == 1  # swapped from the silent leader while its key was still there
        assert b.token > a.token
        await _until("b raised the fence", lambda: asyncio.to_thread(lambda: _fence(vigil) == (b.token, "sched-b")))
        assert not await a.holds() and await b.holds()
        with pytest.raises(FencedOff):  # the stale leader's write is refused at storage
            await asyncio.to_thread(_write_with, vigil, a.fence_holds)
        await asyncio.to_thread(_write_with, vigil, b.fence_holds)  # the new leader's passes
    finally:
        await b.stop()
        a._lease = None  # a paused leader gives nothing back
        await a.stop()


async def test_sigkill_of_the_leading_scheduler_process_elects_the_other_before_the_ttl(sqlite_vigil, nats_server,
                                                                                        tmp_path):
    v = sqlite_vigil
    init_instance(v, root_code="5301", root_name="Pref")
    env = {**os.environ, "VIGIL_LEASE_TTL": str(TTL), "VIGIL_NATS": nats_server.url}
    common = ["serve", "--role", "scheduler", "--db", v.settings.db_url, "--home", str(v.settings.home)]
    logs = [tmp_path / f"sched{i}.log" for i in range(2)]
    procs: list[subprocess.Popen] = []
    nc = await nats.connect(nats_server.url)
    try:
        for path in logs:
            procs.append(spawn_vigil(common, env, path.open("wb")))
        table = LeaseTable(await open_bucket(nc.jetstream(), ttl=TTL), "test", ttl=TTL)

        async def leader():
            return await table.holder(LEADER_KEY)
        await _until("a scheduler leads", leader)
        first = await leader()
        await _until("the leader raised its fence", lambda: asyncio.to_thread(
            lambda: _fence(v) == (first.token, first.owner)))
        pid = int(first.owner.rsplit("-", 1)[1])
        victim = next(p for p in procs if p.pid == pid)
        survivor = next(p for p in procs if p.pid != pid)
        await asyncio.sleep(3 * 0.75)  # the standby hears a few beats of the leader first
        victim.send_signal(signal.SIGKILL)
        t_kill = time.monotonic()

        async def re_elected():
            h = await table.holder(LEADER_KEY)
            return h is not None and h.owner != first.owner
        await _until("the other scheduler leads", re_elected)
        print(f"\nscheduler re-elected {time.monotonic() - t_kill:.1f} s after SIGKILL of the leader (TTL {TTL:.0f} s)")
        second = await leader()
        assert second.owner == f"{first.owner.rsplit('-', 1)[0]}-{survivor.pid}" and second.token > first.token
        await _until("the new leader raised the fence", lambda: asyncio.to_thread(
            lambda: _fence(v) == (second.token, second.owner)))
        text = logs[procs.index(survivor)].read_text()
        assert f"the leader {first.owner} is silent" in text  # taken by swap: its key had not expired
    finally:
        stop_all(procs)
        await nc.close()
