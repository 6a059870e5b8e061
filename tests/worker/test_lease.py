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


@pytest.fixture
async def long_pair(nats_server):
    """Holders ``a`` and ``b`` on a bucket whose TTL (15 s) outlasts the test: nothing expires by itself."""
    nc, tables = await _tables(nats_server.url, "a", "b", ttl=15.0)
    yield tables
    await nc.close()


async def test_take_over_from_a_dead_holder_fences_it(long_pair):
    a, b = long_pair
    la = await a.acquire("shard.4")
    seen = await b.holder("shard.4")
    assert await a.renew(la)  # the holder renews after b read it: alive, the swap must fail
    assert await b.take_over("shard.4", seen) is None
    assert await a.check(la)
    lb = await b.take_over("shard.4", await b.holder("shard.4"))  # nobody renewed in between (a is dead)
    assert lb is not None and lb.token > la.token
    assert (await b.holder("shard.4")).owner == "b"
    assert not await a.check(la) and not await a.renew(la)  # the former holder is fenced
    assert await b.check(lb)


async def test_evict_only_at_the_revision_read(long_pair):
    a, b = long_pair
    la = await a.acquire("member.a")
    seen = (await b.revisions("member."))["member.a"]
    assert seen == la.revision
    assert await a.renew(la)
    assert not await b.evict("member.a", seen)  # it renewed: kept
    assert await b.evict("member.a", (await b.holder("member.a")).revision)
    assert await b.holder("member.a") is None
    assert not await a.renew(la)
    assert await a.acquire("member.a") is not None  # it may come back
