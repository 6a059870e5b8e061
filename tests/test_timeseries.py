"""Time series partitions (PostgreSQL) and retention (both): created ahead, rows placed, old partitions dropped."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from health.healthkit import add_camera, add_regions
from vigil.access.audit import record, verify_chain
from vigil.analytics.models import Event
from vigil.cli import app
from vigil.core.db import _alembic_config
from vigil.core.errors import InputError
from vigil.core.models import AuditEntry, Camera
from vigil.core.timeseries import (
    AHEAD,
    KEEP_ENV,
    SERIES,
    Maintenance,
    MaintenanceReport,
    apply_retention,
    ensure_partitions,
    is_partitioned,
    keep_days,
    maintain,
    partitions,
    span,
)
from vigil.health.kpi import compute_kpis
from vigil.health.models import StatusChange
from vigil.video.models import RecordingSegment
from vigil.worker.bus import ProbeBatch
from vigil.worker.writer import store_batches

NOW = datetime.now(UTC)
SPEC = {s.table: s for s in SERIES}


def _where(s, table, key, value):
    """The partition a row is stored in (PostgreSQL)."""
    return s.execute(text(f"SELECT tableoid::regclass::text FROM {table} WHERE {key} = :v"), {"v": value}).scalar()


def _months_back(n):
    lo = span("month", NOW)[0]
    for _ in range(n):
        lo = span("month", lo - timedelta(days=1))[0]
    return lo


def test_partitions_are_created_ahead(vigil):
    with vigil.db.session() as s:
        conn = s.connection()
        pg = vigil.db.dialect == "postgresql"
        assert all(is_partitioned(conn, spec.table) == pg for spec in SERIES)
    if not pg:
        assert maintain(vigil.db, now=NOW).created == []
        return
    with vigil.db.session() as s:  # the migration makes the current month (day) only
        conn = s.connection()
        assert [p.lo for p in partitions(conn, SPEC["audit_log"])] == [span("month", NOW)[0]]
        assert [p.lo for p in partitions(conn, SPEC["recording_segments"])] == [span("day", NOW)[0]]
    assert len(maintain(vigil.db, now=NOW).created) == 4 * AHEAD["month"] + AHEAD["day"]
    with vigil.db.session() as s:
        conn = s.connection()
        months = [p.lo for p in partitions(conn, SPEC["status_changes"])]
        assert months[0] == span("month", NOW)[0] and len(months) == 1 + AHEAD["month"]
        days = [p.lo for p in partitions(conn, SPEC["recording_segments"])]
        assert days == [span("day", NOW)[0] + timedelta(days=i) for i in range(1 + AHEAD["day"])]
    later = NOW + timedelta(days=40)
    rep = maintain(vigil.db, now=later)
    assert len([n for n in rep.created if n.startswith("events_")]) >= 1
    # the emptied days of segments before the new "now" go; no month table loses anything
    assert sorted(rep.dropped) == [f"recording_segments_p{NOW + timedelta(days=i):%Y%m%d}" for i in range(8)]
    with vigil.db.session() as s:
        last = partitions(s.connection(), SPEC["events"])[-1]
        lo = span("month", later)[0]
        for _ in range(AHEAD["month"]):
            lo = span("month", lo)[1]
        assert last.lo == lo  # still three months ahead of the new "now"
    assert maintain(vigil.db, now=later).created == []  # idempotent


def test_rows_land_in_their_partition_and_the_default_gives_them_up(pg_vigil):
    vigil = pg_vigil  # partitions exist on PostgreSQL only
    far = NOW + timedelta(days=400)  # a camera with a wrong clock: no partition yet
    with vigil.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201", 1)
        for i, ts in enumerate((NOW, span("month", NOW)[1] + timedelta(hours=1), far)):
            s.add(StatusChange(id=1000 + i, camera_id=cam, ts=ts, state="online"))
    maintain(vigil.db, now=NOW)  # the next month's partition takes its row from the default
    with vigil.db.session() as s:
        assert _where(s, "status_changes", "id", 1000) == f"status_changes_p{NOW:%Y%m}"
        assert _where(s, "status_changes", "id", 1001) == f"status_changes_p{span('month', NOW)[1]:%Y%m}"
        assert _where(s, "status_changes", "id", 1002) == "status_changes_default"
    maintain(vigil.db, now=far)
    with vigil.db.session() as s:
        assert _where(s, "status_changes", "id", 1002) == f"status_changes_p{far:%Y%m}"
        assert s.scalar(text("SELECT count(*) FROM status_changes_default")) == 0
        assert s.scalar(select(func.count()).select_from(StatusChange)) == 3  # one query over every partition


def _online_share(s, start, end):
    return compute_kpis(s, "5301", period=end - start, end=end, now=end).regions[0].online_rate


def test_retention_drops_old_partitions_and_keeps_the_state_known(vigil):
    """Changes older than the retention go (whole partitions on PostgreSQL); each camera's state survives."""
    old = _months_back(15)
    with vigil.db.session() as s:
        add_regions(s)
        a, b = add_camera(s, "53010201", 1), add_camera(s, "53010201", 2)
        ensure_partitions(s.connection(), SPEC["status_changes"], now=NOW, since=old)
        made = [StatusChange(camera_id=a, ts=old + timedelta(days=2), state="down", reason="refused"),
                StatusChange(camera_id=a, ts=old + timedelta(days=3), state="online"),
                StatusChange(camera_id=b, ts=old + timedelta(days=2), state="down", reason="timeout"),
                StatusChange(camera_id=b, ts=NOW - timedelta(days=10), state="online")]
        s.add_all(made)
        s.flush()
        ids = [c.id for c in made]
    start, end = NOW - timedelta(days=30), NOW - timedelta(days=1)
    with vigil.db.session() as s:
        before = _online_share(s, start, end)
    rep = maintain(vigil.db, now=NOW, keep=keep_days("status_changes=365"))
    with vigil.db.session() as s:
        assert _online_share(s, start, end) == pytest.approx(before)  # 50 % then 100 % for b's last 10 days
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "timeseries.retention")).one()
        assert entry.target == "status_changes" and entry.detail["dropped"] == rep.dropped and verify_chain(s).ok
        rows = s.execute(select(StatusChange.id, StatusChange.camera_id, StatusChange.ts, StatusChange.state,
                                StatusChange.reason).order_by(StatusChange.camera_id, StatusChange.ts)).all()
    cutoff = NOW - timedelta(days=365)
    assert all(r.ts >= span("month", cutoff)[0] for r in rows) and rep.carried == 2
    assert [(r.camera_id, r.state, r.reason) for r in rows] == [(a, "online", ""), (b, "down", "timeout"),
                                                                (b, "online", "")]
    assert [r.id for r in rows] == ids[1:]  # moved, not copied: the same rows (federation ships nothing new)
    if vigil.db.dialect == "postgresql":
        assert f"status_changes_p{old:%Y%m}" in rep.dropped and rep.deleted == 0
        with vigil.db.session() as s:
            left = [p.lo for p in partitions(s.connection(), SPEC["status_changes"])]
        assert left[0] == span("month", cutoff)[0]  # the month holding the cutoff is kept whole
    else:
        assert rep.dropped == [] and rep.deleted == 1 and rows[0].ts == span("month", cutoff)[0]  # 2 moved
    assert maintain(vigil.db, now=NOW + timedelta(hours=1), keep=keep_days("status_changes=365")).carried == 0


def test_events_retention_and_a_partition_of_segments_goes_once_empty(vigil):
    old = _months_back(8)
    with vigil.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201", 1)
        conn = s.connection()
        ensure_partitions(conn, SPEC["events"], now=NOW, since=old)
        ensure_partitions(conn, SPEC["recording_segments"], now=NOW, since=NOW - timedelta(days=3))
        for when in (old, NOW):
            s.add(Event(uid=str(uuid.uuid4()), camera_id=cam, region_code="53010201", type="object",
                        label="car", start=when, box=[0, 0, 1, 1], score=0.9))
        for i in (3, 2):
            t = NOW - timedelta(days=i)
            s.add(RecordingSegment(camera_id=cam, path=f"/r/{i}.mp4", start=t, end=t + timedelta(minutes=1)))
    rep = maintain(vigil.db, now=NOW)  # the defaults: events 180 days, segments only once emptied
    with vigil.db.session() as s:
        assert [e.start for e in s.scalars(select(Event))] == [NOW]
        assert s.scalar(select(func.count()).select_from(RecordingSegment)) == 2
        s.execute(delete(RecordingSegment).where(RecordingSegment.path == "/r/3.mp4"))  # video retention's job
    again = maintain(vigil.db, now=NOW)
    if vigil.db.dialect == "postgresql":
        day = {i: f"recording_segments_p{NOW - timedelta(days=i):%Y%m%d}" for i in (1, 2, 3)}
        assert f"events_p{old:%Y%m}" in rep.dropped and day[1] in rep.dropped  # yesterday held nothing
        assert day[2] not in rep.dropped + again.dropped and day[3] not in rep.dropped and day[3] in again.dropped
    else:
        assert rep.deleted == 1 and again.dropped == []
    with vigil.db.session() as s:
        assert [g.path for g in s.scalars(select(RecordingSegment))] == ["/r/2.mp4"]


def test_writer_stays_idempotent_across_partitions(vigil):
    with vigil.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201", 1)
    maintain(vigil.db, now=NOW)
    edge = span("month", NOW)[1]  # a month boundary between two confirmed changes
    batches = [ProbeBatch(f"w.1.{i}", 1, 7, "w", edge + timedelta(seconds=dt), ((cam, ok, "" if ok else "refused",
                                                                              1.0),))
               for i, (dt, ok) in enumerate([(-30, True), (-20, False), (-10, False), (10, True), (20, True)])]
    with vigil.db.session() as s:
        first = store_batches(s, batches)
    with vigil.db.session() as s:
        again = store_batches(s, batches[::-1])
    assert (first.stored, again.stored, again.duplicates) == (5, 0, 5)
    with vigil.db.session() as s:
        rows = s.execute(select(StatusChange.id, StatusChange.state).order_by(StatusChange.ts)).all()
        assert [r.state for r in rows] == ["online", "down", "online"]
        if vigil.db.dialect == "postgresql":
            assert {_where(s, "status_changes", "id", r.id) for r in rows} == {
                f"status_changes_p{NOW:%Y%m}", f"status_changes_p{edge:%Y%m}"}
        s.execute(delete(Camera).where(Camera.id == cam))  # the cascade reaches every partition
    with vigil.db.session() as s:
        assert s.scalar(select(func.count()).select_from(StatusChange)) == 0


def test_keep_days_reads_the_setting():
    keep = keep_days(" events=90 , audit_log=keep,status_changes=730")
    assert (keep["events"], keep["audit_log"], keep["status_changes"], keep["quality_changes"]) == (90, None, 730, 400)
    for bad, why in (("evnts=9", "unknown time series 'evnts'"), ("events=soon", "number of days or 'keep'"),
                     ("events=0", "between 1 and 36500")):
        with pytest.raises(InputError, match=why):
            keep_days(bad)


def test_sqlite_retention_deletes_rows(sqlite_vigil):
    """SQLite keeps plain tables: no partition is made, old rows are deleted."""
    with sqlite_vigil.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201", 1)
        s.add(Event(uid="e1", camera_id=cam, region_code="53010201", type="object", label="car",
                    start=NOW - timedelta(days=40), box=[0, 0, 1, 1], score=0.5))
        s.flush()
        conn = s.connection()
        assert ensure_partitions(conn, SPEC["events"], now=NOW) == []
        rep = MaintenanceReport()
        apply_retention(conn, SPEC["events"], now=NOW, keep=4, report=rep)  # whole months: before last month
        assert (rep.deleted, rep.dropped) == (1, [])


def test_upgrade_from_the_previous_release_keeps_the_rows(vigil):
    """Plain tables with rows (the revision before) become partitioned with the same rows, ids and keys."""
    cfg = _alembic_config(vigil.db.engine)
    cfg.attributes.update(vigil.db.info)
    command.downgrade(cfg, "0003_video")  # only the partitioning revision stands on 0003_video
    with vigil.db.session() as s:
        assert not is_partitioned(s.connection(), "status_changes")
        add_regions(s)
        cam = add_camera(s, "53010201", 1)
        s.add_all([StatusChange(camera_id=cam, ts=NOW - timedelta(days=d), state="down") for d in (700, 40, 1)])
        s.add(Event(uid="u1", camera_id=cam, region_code="53010201", type="object", label="car",
                    start=NOW - timedelta(days=3), box=[0, 0, 1, 1], score=0.5))
        record(s, "alice", "camera.view", "camera:1")
    command.upgrade(cfg, "heads")
    with vigil.db.session() as s:
        conn = s.connection()
        pg = vigil.db.dialect == "postgresql"
        assert all(is_partitioned(conn, spec.table) == pg for spec in SERIES)
        ids = list(s.scalars(select(StatusChange.id).order_by(StatusChange.id)))
        assert ids == [1, 2, 3]
        s.add(StatusChange(camera_id=cam, ts=NOW, state="online"))
        s.flush()  # the sequence went with the table
        assert max(s.scalars(select(StatusChange.id))) == 4
        assert verify_chain(s).ok
    if pg:
        with vigil.db.session() as s:
            assert _where(s, "status_changes", "id", 1) == f"status_changes_p{NOW - timedelta(days=700):%Y%m}"
            assert _where(s, "status_changes", "id", 2) == f"status_changes_p{NOW - timedelta(days=40):%Y%m}"
            pk = s.scalar(text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'events_pkey'"))
            assert pk == "PRIMARY KEY (id, start)"
            with pytest.raises(IntegrityError), s.begin_nested():  # (uid, start) is still unique
                s.add(Event(uid="u1", camera_id=cam, region_code="53010201", type="object", label="car",
                            start=NOW - timedelta(days=3), box=[0, 0, 1, 1], score=0.5))
                s.flush()


def test_cli_shows_and_maintains_the_time_series(vigil, monkeypatch):
    runner, args = CliRunner(), ["--db", vigil.settings.db_url, "--home", str(vigil.settings.home)]
    monkeypatch.setenv(KEEP_ENV, "events=30")
    shown = runner.invoke(app, ["timeseries", "show", *args])
    assert shown.exit_code == 0, shown.output
    pg = vigil.db.dialect == "postgresql"
    if pg:
        assert "status_changes: 1 partition by month" in shown.output
        assert "recording_segments: 1 partition by day" in shown.output
    else:
        assert "status_changes: plain table (retention by DELETE), 400 days" in shown.output
    assert "events" in shown.output and "30 days" in shown.output and "audit_log" in shown.output
    done = runner.invoke(app, ["timeseries", "maintain", *args])
    made = 4 * AHEAD["month"] + AHEAD["day"] if pg else 0
    assert done.exit_code == 0 and f"created {made} partitions, dropped 0" in done.output, done.output
    monkeypatch.setenv(KEEP_ENV, "events=never")
    bad = runner.invoke(app, ["timeseries", "maintain", *args])
    assert bad.exit_code == 2 and "number of days or 'keep'" in bad.output and "Traceback" not in bad.output


async def test_the_service_runs_a_round_at_start(vigil):
    with vigil.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201", 1)
        s.add(Event(uid="old", camera_id=cam, region_code="53010201", type="object", label="car",
                    start=NOW - timedelta(days=200), box=[0, 0, 1, 1], score=0.5))
    svc = Maintenance(vigil.db, keep=keep_days(None))
    await svc.start()
    try:
        for _ in range(200):
            if svc.last is not None:
                break
            await asyncio.sleep(0.05)
    finally:
        await svc.stop()
    assert svc.last is not None and svc.last.deleted == 1  # the 180-day default; in the default partition on PG
    with vigil.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 0
