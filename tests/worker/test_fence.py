"""The shard fence a worker raises when it wins a shard, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from health.healthkit import T0, add_camera, add_regions
from vigil.worker.bus import ProbeBatch
from vigil.worker.fence import fence_holds, raise_fence
from vigil.worker.models import ShardFence
from vigil.worker.writer import store_batches


def test_a_won_shard_fences_off_the_old_owners_rows_and_batches(vigil):
    with vigil.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201", 1)
    with vigil.db.session() as s:
        assert fence_holds(s, 7, 5)  # nobody fenced the shard yet
        assert raise_fence(s, 7, 5, "w1")
    with vigil.db.session() as s:
        assert raise_fence(s, 7, 9, "w2")  # the successor's larger token
        assert not raise_fence(s, 7, 5, "w1")  # a stale owner cannot lower it
    with vigil.db.session() as s:
        assert (s.get(ShardFence, 7).token, s.get(ShardFence, 7).worker) == (9, "w2")
        assert not fence_holds(s, 7, 5) and fence_holds(s, 7, 9) and fence_holds(s, 8, 1)
        old = ProbeBatch("w1.1.7.5.1", 7, 5, "w1", T0 + timedelta(seconds=1), ((cam, False, "refused", 3.0),))
        new = ProbeBatch("w2.1.7.9.1", 7, 9, "w2", T0 + timedelta(seconds=2), ((cam, True, "", 3.0),))
        rep = store_batches(s, [old, new])
    assert (rep.stored, rep.fenced) == (1, 1)  # the writer honours the fence raised at the win
