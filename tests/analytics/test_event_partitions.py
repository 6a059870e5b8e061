"""Event list queries bound ``start``, so PostgreSQL scans only the partitions of the period asked for.

The overlap rule (an event that ended at or after ``since``, started at most a day before it) is
checked on SQLite and PostgreSQL; EXPLAIN on PostgreSQL names the partitions the query reads.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from health.healthkit import add_camera, add_regions
from vigil.access.guard import Scope
from vigil.analytics.models import Event
from vigil.analytics.service import EVENT_LOOKBACK, EventFilter, events_query, list_events
from vigil.core.timeseries import SERIES, ensure_partitions, span

NOW = datetime.now(UTC)
EVENTS = next(x for x in SERIES if x.table == "events")
T = span("month", NOW)[0] - timedelta(days=200)  # some instant 6-7 months back


def _add(s, cam, start, end, label="person"):
    s.add(Event(uid=str(uuid.uuid4()), camera_id=cam, region_code="53010201", type="object", label=label,
                start=start, end=end, box=[0, 0, 1, 1], score=0.9))


def _months(lo, hi):
    out, m = [], span("month", lo)[0]
    while m <= hi:
        out.append(f"events_p{m:%Y%m}")
        m = span("month", m)[1]
    return out


def test_since_lists_the_events_that_overlap_it(vigil):
    since = T
    with vigil.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201", 1)
        _add(s, cam, since - timedelta(hours=3), since + timedelta(minutes=5), "a")  # overlaps since
        _add(s, cam, since - timedelta(hours=3), since - timedelta(hours=1), "b")  # over before since
        _add(s, cam, since + timedelta(hours=1), None, "c")  # open, after since
        _add(s, cam, since - timedelta(hours=1), None, "d")  # open, started before since: as before
        _add(s, cam, since - EVENT_LOOKBACK - timedelta(hours=1), since + timedelta(hours=1), "e")  # too long
        _add(s, cam, since + timedelta(days=3), since + timedelta(days=3, minutes=1), "f")
    with vigil.db.session() as s:
        total, rows = list_events(s, Scope.everything(), EventFilter(since=since))
        assert (total, [r.label for r in rows]) == (3, ["f", "c", "a"])
        _, rows = list_events(s, Scope.everything(), EventFilter(since=since, until=since + timedelta(days=1)))
        assert [r.label for r in rows] == ["c", "a"]


def test_explain_scans_only_the_partitions_of_the_period(pg_vigil):
    v = pg_vigil
    since, until = T + timedelta(days=20), T + timedelta(days=50)
    with v.db.session() as s:
        add_regions(s)
        cam = add_camera(s, "53010201", 1)
        ensure_partitions(s.connection(), EVENTS, now=NOW, since=T - timedelta(days=90))
        for d in range(0, 200, 3):
            _add(s, cam, T - timedelta(days=80) + timedelta(days=d), T - timedelta(days=80) + timedelta(days=d, hours=1))
    with v.db.session() as s:
        every = {r[0] for r in s.execute(text("SELECT inhrelid::regclass::text FROM pg_inherits "
                                              "WHERE inhparent = 'events'::regclass"))}
        q = events_query(Scope.everything(), EventFilter(since=since, until=until)).compile(
            dialect=postgresql.dialect())
        plan = "\n".join(r[0] for r in s.connection().exec_driver_sql(f"EXPLAIN {q}", q.params))
        got = set(re.findall(r"\bevents_(?:p\d{6}|default)\b", plan))
        _, rows = list_events(s, Scope.everything(), EventFilter(since=since, until=until))
    want = set(_months(since - EVENT_LOOKBACK, until))
    assert len(every) >= 9 and got == want, plan  # not the default, not the other months
    assert rows and all(since - EVENT_LOOKBACK <= r.start <= until for r in rows)
