"""The writer's storage rule on SQLite and PostgreSQL: idempotent by message id, fenced by token per shard."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from health.healthkit import T0, add_camera, add_regions
from vigil.health.models import CameraStatus, StatusChange
from vigil.worker.bus import ProbeBatch
from vigil.worker.models import ShardFence, WorkerInbox
from vigil.worker.writer import prune_inbox, store_batches


def _batch(mid, cam, ok, *, token=10, shard=5, worker="w1", dt=0):
    return ProbeBatch(mid, shard, token, worker, T0 + timedelta(seconds=dt),
                      ((cam, ok, "" if ok else "refused", 3.0),))


def test_redelivered_batches_change_nothing(vigil):
    with vigil.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201", 1)
    seq = [_batch("w1.5.10.1", cam, True), _batch("w1.5.10.2", cam, False, dt=10),
           _batch("w1.5.10.3", cam, False, dt=20)]
    with vigil.db.session() as s:
        rep = store_batches(s, seq)
    assert (rep.stored, rep.duplicates) == (3, 0)
    assert [c.new_state for c in rep.changes] == ["online", "down"]
    with vigil.db.session() as s:  # every message again (a lost ack), in one and in several fetches
        again = store_batches(s, seq + seq[:1])
    with vigil.db.session() as s:
        assert (again.stored, again.duplicates) == (0, 4)
        assert s.scalar(select(func.count()).select_from(StatusChange)) == 2
        st = s.get(CameraStatus, cam)
        assert (st.state, st.consecutive_fail) == ("down", 2)


def test_stale_token_is_fenced_off(vigil):
    with vigil.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201", 2)
    with vigil.db.session() as s:
        store_batches(s, [_batch("a.1", cam, True, token=10, worker="a")])
        store_batches(s, [_batch("b.1", cam, True, token=42, worker="b", dt=5)])  # b took the shard over
    with vigil.db.session() as s:
        late = store_batches(s, [_batch("a.2", cam, False, token=10, worker="a", dt=6),
                                 _batch("a.3", cam, False, token=10, worker="a", dt=7)])
        other = store_batches(s, [_batch("a.9", cam, False, token=10, worker="a", shard=6, dt=8)])
    assert (late.stored, late.fenced, late.changes) == (0, 2, [])
    assert other.stored == 1  # the fence is per shard
    with vigil.db.session() as s:
        assert s.get(ShardFence, 5).worker == "b" and s.get(ShardFence, 5).token == 42
        assert s.get(CameraStatus, cam).consecutive_fail == 1  # only shard 6's sample counted
        assert prune_inbox(s, older_than=timedelta(days=-1)) == 5
        assert s.scalar(select(func.count()).select_from(WorkerInbox)) == 0
