"""Leases on a real JetStream KV: one holder at a time, expiry after the TTL, fencing of a stale holder."""

from __future__ import annotations

import asyncio

import nats
import pytest

from vigil.worker.lease import LeaseTable, open_bucket


async def _tables(url, *owners, ttl=1.5):
    nc = await nats.connect(url)
    kv = await open_bucket(nc.jetstream(), ttl=ttl)
    return nc, [LeaseTable(kv, o, ttl=ttl) for o in owners]


async def test_one_holder_renew_release(nats_server):
    nc, (a, b) = await _tables(nats_server.url, "a", "b")
    try:
        la = await a.acquire("shard.1")
        assert la is not None and la.token > 0
        assert await b.acquire("shard.1") is None  # held: create fails
        assert (await b.holder("shard.1")).owner == "a"
        assert await a.renew(la) and await a.check(la)
        assert (await b.holder("shard.1")).token == la.token  # readers see the fence
        await a.release(la)
        lb = await b.acquire("shard.1")
        assert lb is not None and lb.token > la.token  # tokens only grow
        assert not await a.check(la)
    finally:
        await nc.close()


async def test_expired_lease_is_taken_and_old_holder_fenced(nats_server):
    nc, (a, b) = await _tables(nats_server.url, "a", "b", ttl=1.0)
    try:
        la = await a.acquire("shard.7")
        la.deadline += 60  # a holder whose clock says it is fine, but which stopped renewing (paused)
        for _ in range(50):
            lb = await b.acquire("shard.7")
            if lb:
                break
            await asyncio.sleep(0.1)
        assert lb is not None and lb.token > la.token
        assert not await a.check(la)  # the stale holder learns it lost the lease before writing
        assert not await a.renew(la)  # and cannot renew over the new holder
        assert (await b.holder("shard.7")).owner == "b"
        assert await b.check(lb)
    finally:
        await nc.close()


async def test_members_listed_and_ttl_bounded(nats_server):
    nc, (a, b) = await _tables(nats_server.url, "a", "b")
    try:
        assert await a.keys("member.") == []
        await a.acquire("member.a")
        await b.acquire("member.b")
        await a.acquire("shard.3")
        assert await a.keys("member.") == ["member.a", "member.b"]
        with pytest.raises(ValueError):
            await open_bucket(nc.jetstream(), ttl=30, bucket="too-long")
    finally:
        await nc.close()
