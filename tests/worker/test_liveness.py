"""Heartbeat liveness (pure): who is silent, judged against our own beats."""

from __future__ import annotations

import pytest

from vigil.worker.liveness import Liveness, dead_after, grace_after


def _heard(beats: list[tuple[str, float]], *, dead: float = 3.0, grace: float = 9.0) -> Liveness:
    lv = Liveness("me", dead_after=dead, grace=grace)
    for name, at in beats:
        lv.heard(name, at)
    return lv


@pytest.mark.parametrize(("beats", "members", "silent"), [
    # both beating: nobody silent
    ([(n, t) for t in range(10) for n in ("me", "w2")], {"me", "w2"}, set()),
    # w2 stopped at 2 s while we kept beating to 9 s: silent
    ([("w2", 0), ("w2", 2)] + [("me", t) for t in range(10)], {"me", "w2"}, {"w2"}),
    # exactly dead_after behind: not yet
    ([("w2", 6)] + [("me", t) for t in range(10)], {"me", "w2"}, set()),
    # we stopped hearing ourselves too (NATS away, our loop stalled): judge nobody
    ([("me", 0), ("w2", 0)], {"me", "w2"}, set()),
    # never heard ourselves: judge nobody
    ([("w2", 0)], {"me", "w2"}, set()),
    # a member never heard (a release without heartbeats): never judged, its TTL decides
    ([("me", t) for t in range(10)], {"me", "w3"}, set()),
    # only the names asked about
    ([("w2", 0)] + [("me", t) for t in range(10)], {"me"}, set()),
])
def test_silent(beats, members, silent):
    assert _heard(beats).silent(members) == silent


def test_a_worker_heard_again_is_not_silent():
    lv = _heard([("w2", 0)] + [("me", t) for t in range(10)])
    assert lv.silent({"me", "w2"}) == {"w2"}
    lv.heard("w2", 10)  # it was paused, or it came back
    assert lv.silent({"me", "w2"}) == set()


def test_after_our_own_gap_nobody_is_judged_for_the_grace():
    """NATS restarted: our beats stopped too; a worker reconnecting a little after us is not dead."""
    lv = _heard([("me", 0), ("w2", 0), ("me", 5)], dead=2.0, grace=9.0)  # a 5 s gap of our own
    for t in range(6, 14):
        lv.heard("me", t)
    assert lv.silent({"me", "w2"}) == set()  # held until 14 s
    lv.heard("me", 14)
    assert lv.silent({"me", "w2"}) == {"w2"}
    assert lv.max_gap["me"] == 5


@pytest.mark.parametrize("ttl", [15.0, 12.0])
def test_a_worker_killed_during_our_own_stall_is_judged_before_its_leases_run_out(ttl):
    """w2 beats every dead/4 s, renews its leases every TTL/3 and is killed at 0, as we stall for 1.5 x dead.

    It must be silent to us before its last renewal (up to a TTL/3 before the kill) runs out, at
    2/3 TTL. With a grace of one TTL (as before) it was judged at 19.5 s at TTL 15.
    """
    dead = dead_after(ttl)
    lv = Liveness("me", dead_after=dead, grace=grace_after(ttl))
    step = dead / 4
    for i in range(-40, 1):
        lv.heard("me", i * step)
        lv.heard("w2", i * step)
    stall = 1.5 * dead  # we hear nothing from 0 to the end of our stall
    t = stall
    while not lv.silent({"me", "w2"}):
        lv.heard("me", t)
        t += step
        assert t < 2 * ttl, "never judged"
    assert t - step < 2 * ttl / 3


@pytest.mark.parametrize(("ttl", "dead"), [(15.0, 3.0), (9.0, 3.0), (6.0, 2.0), (3.0, 1.0)])
def test_dead_after(ttl, dead):
    assert dead_after(ttl) == dead
