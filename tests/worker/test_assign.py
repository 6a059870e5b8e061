"""Pure assignment: stable camera shards; rendezvous hashing owns every shard once and moves the minimum."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.worker.assign import DEFAULT_SHARDS, assign, moved, owner_of, shard_of, shards_of

names = st.sets(st.text(alphabet="abcdefghijklmnop0123456789-", min_size=1, max_size=12), min_size=1, max_size=12)


def test_shard_of_is_stable_and_spread():
    ids = [f"53010000001320{i:06d}" for i in range(5000)]
    first = [shard_of(c) for c in ids]
    assert first == [shard_of(c) for c in ids]
    assert all(0 <= s < DEFAULT_SHARDS for s in first)
    counts = [first.count(s) for s in range(DEFAULT_SHARDS)]
    assert min(counts) > 0 and max(counts) < 3 * 5000 / DEFAULT_SHARDS  # no hot shard
    assert shard_of("53010000001320000001") == 92  # pinned: a release must not move cameras


@pytest.mark.parametrize(("shards", "exc"), [(0, ValueError), (-1, ValueError)])
def test_shard_of_rejects(shards, exc):
    with pytest.raises(exc):
        shard_of("x", shards)


def test_no_workers_no_owner():
    assert assign([]) == {}
    assert owner_of(3, []) is None


@given(names)
@settings(max_examples=60, deadline=None)
def test_every_shard_owned_exactly_once(workers):
    a = assign(workers, 64)
    assert set(a) == set(range(64))
    assert set(a.values()) <= workers
    owned = [s for w in workers for s in shards_of(w, workers, 64)]
    assert sorted(owned) == list(range(64))  # the union of every worker's view: each shard once


@given(names, st.text(alphabet="qrstuvwxyz", min_size=1, max_size=8))
@settings(max_examples=60, deadline=None)
def test_join_moves_only_to_the_newcomer(workers, newcomer):
    before = assign(workers, 128)
    after = assign(workers | {newcomer}, 128)
    for s in moved(before, after):
        assert after[s] == newcomer  # nobody else's shards are reshuffled


@given(names.filter(lambda w: len(w) >= 2), st.data())
@settings(max_examples=60, deadline=None)
def test_leave_moves_only_the_leavers_shards(workers, data):
    gone = data.draw(st.sampled_from(sorted(workers)))
    before = assign(workers, 128)
    after = assign(workers - {gone}, 128)
    assert moved(before, after) == {s for s, w in before.items() if w == gone}


def test_balance_is_roughly_even():
    a = assign([f"w{i}" for i in range(4)])
    counts = sorted(list(a.values()).count(f"w{i}") for i in range(4))
    assert counts[0] > DEFAULT_SHARDS / 4 * 0.6 and counts[-1] < DEFAULT_SHARDS / 4 * 1.4
