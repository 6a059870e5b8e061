"""Work-order and alarm lists page with a true total: filters by state, SLA, fault kind and team count every
match, not just one page; the scope still bounds them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from healthkit import T0, add_camera

from vigil.access.guard import Scope
from vigil.core.errors import InputError
from vigil.health import workorders as wos
from vigil.health.alarms import page_alarms
from vigil.health.models import Alarm


def _seed(v):  # type: ignore[no-untyped-def]
    """7 cameras in one village, 2 in another town; offline alarms on most, blur on two; orders for each."""
    with v.db.session() as s:
        team = wos.add_team(s, "east", "53010201", sla_hours=4)
        alarms = []
        for n in range(9):
            region = "53010201001" if n < 7 else "53010202"
            cid = add_camera(s, region, n + 1)
            kind = "blur" if n in (2, 5) else "offline"
            a = Alarm(camera_id=cid, region_code=region, kind=kind, severity="major", state="active",
                      raised_at=T0 + timedelta(minutes=n))
            s.add(a)
            s.flush()
            alarms.append(a)
        orders = [wos.open_for_alarm(s, a, now=T0 + timedelta(minutes=i)) for i, a in enumerate(alarms)]
        return team.id, [o.id for o in orders]


def test_orders_page_with_true_totals(tree):
    team, ids = _seed(tree)
    town = Scope.of(["53010201"])
    with tree.db.session() as s:
        rows, total = wos.page_orders(s, scope=town, state="open", limit=3, offset=0, now=T0)
        assert total == 7 and [w.id for w in rows] == ids[:3]        # earliest deadline first
        rows, total = wos.page_orders(s, scope=town, state="open", limit=3, offset=6, now=T0)
        assert total == 7 and [w.id for w in rows] == ids[6:7]
        assert wos.page_orders(s, scope=town, kind="blur", now=T0)[1] == 2
        assert wos.page_orders(s, scope=Scope.everything(), team_id=team, now=T0)[1] == 7
        # 5 hours later every open order is past its 4-hour SLA; none is before
        assert wos.page_orders(s, scope=town, breached=True, now=T0)[1] == 0
        assert wos.page_orders(s, scope=town, breached=True, now=T0 + timedelta(hours=5))[1] == 7
        assert wos.page_orders(s, scope=town, breached=False, now=T0 + timedelta(hours=5))[1] == 0
        assert wos.page_orders(s, scope=Scope.of(["53010202"]), now=T0)[1] == 2
        with pytest.raises(InputError, match="states"):
            wos.page_orders(s, scope=town, state="done")


def test_alarms_page_with_true_totals(tree):
    _seed(tree)
    with tree.db.session() as s:
        rows, total = page_alarms(s, scope=Scope.of(["5301"]), limit=4, offset=4)
        assert total == 9 and len(rows) == 4
        assert page_alarms(s, scope=Scope.of(["53010201"]), kind="offline")[1] == 5
        assert page_alarms(s, scope=Scope.of(["53010201"]), state="cleared")[1] == 0
