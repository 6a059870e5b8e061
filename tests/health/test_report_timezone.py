"""The daily report covers the instance's local day (Asia/Shanghai), not the UTC day."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest
from healthkit import add_camera

from vigil.core.errors import InputError
from vigil.health.models import Alarm
from vigil.health.report import gather_daily


@pytest.mark.parametrize(("zone", "expect"), [
    ("UTC", ["late-night", "utc-evening"]),           # 2026-11-02 00:00..24:00 UTC
    ("Asia/Shanghai", ["shanghai-morning", "utc-evening"]),  # 2026-11-01 16:00 UTC .. 11-02 16:00 UTC
])
def test_daily_report_uses_the_local_day(tree, zone, expect):
    v = tree
    v.settings = dataclasses.replace(v.settings, time_zone=zone)
    raised = {"shanghai-morning": datetime(2026, 11, 1, 17, 0, tzinfo=UTC),   # 01:00 on 11-02 in Shanghai
              "utc-evening": datetime(2026, 11, 2, 10, 0, tzinfo=UTC),
              "late-night": datetime(2026, 11, 2, 20, 0, tzinfo=UTC)}          # 04:00 on 11-03 in Shanghai
    with v.db.session() as s:
        for n, (name, at) in enumerate(raised.items()):
            cid = add_camera(s, "53010201001", n + 1)
            s.add(Alarm(camera_id=cid, region_code="53010201001", kind=name, severity="major", state="cleared",
                        raised_at=at, cleared_at=at.replace(minute=30)))
    data = gather_daily(v, "53010201", date(2026, 11, 2))
    assert sorted(a["kind"] for a in data["alarms"]) == expect


def test_an_unknown_time_zone_is_refused(tree):
    tree.settings = dataclasses.replace(tree.settings, time_zone="Mars/Olympus")
    with pytest.raises(InputError, match="Asia/Shanghai"):
        gather_daily(tree, "53010201", date(2026, 11, 2))
