"""The maintenance workspace in a real Chromium: the engineer lands on the work-order queue, filters it, sees
true counts, and moves an order through assign, start, resolve and verify by re-probe; alarms and cameras down
have their own paged pages; each role signs in; no page overflows horizontally at 1280 px."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest
from console_world import CITY, City, browser_errors, overflowing, seed_health
from sqlalchemy import select
from test_console import _css, _sign_in, _text, _wait

from vigil.access.users import add_user
from vigil.core.models import AuditEntry, Camera
from vigil.health import workorders as wos
from vigil.health.models import Alarm, WorkOrder

pytestmark = pytest.mark.browser
# Screenshots land in $VIGIL_SCREENSHOTS (set it to docs/screenshots to refresh the docs), else a temp dir.
DOCS_SHOTS = Path(os.environ.get("VIGIL_SCREENSHOTS") or tempfile.mkdtemp(prefix="vigil-shots-"))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seed_orders(v, city: City) -> list[int]:  # type: ignore[no-untyped-def]
    seed_health(v, city)
    with v.db.session() as s:
        wos.add_team(s, "安宁维保一队", CITY, contractor="云岭安防", sla_hours=4)
        add_user(s, "fixer", "a-long-password", "maintenance", [CITY], team="安宁维保一队")
        add_user(s, "auditor1", "a-long-password", "auditor", [CITY])
        add_user(s, "planner1", "a-long-password", "planner", [CITY])
        ids = [wos.open_for_alarm(s, a).id for a in s.scalars(select(Alarm).order_by(Alarm.id))]
        # the first order's camera answers nothing: its re-probe fails and the order is reopened
        first = s.get(WorkOrder, ids[0])
        s.get(Camera, first.camera_id).main_url = f"rtsp://127.0.0.1:{_closed_port()}/none"
    return ids


def _fresh(d) -> None:  # type: ignore[no-untyped-def]
    """Leave the last test's page (its server is gone) and drop what it logged on the way out."""
    d.get("about:blank")
    d.get_log("browser")
    d.set_window_size(1280, 900)


def _no_overflow(d, name: str) -> None:  # type: ignore[no-untyped-def]
    """A 1280 px wide page, its panels and its cards have no horizontal scroll; the screenshot goes to DOCS_SHOTS."""
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    d.save_screenshot(str(DOCS_SHOTS / f"{name}.png"))
    assert overflowing(d) == [], f"{name} overflows sideways at 1280 px"


def test_engineer_works_an_order(chrome, console: City, sqlite_vigil) -> None:
    ids = _seed_orders(sqlite_vigil, console)
    d = chrome
    _fresh(d)
    _sign_in(d, console, "fixer", "a-long-password")
    _wait(d, lambda x: "#/workorders" in x.current_url or _css(x, "#wo-total"))
    _wait(d, lambda x: _text(x, "#wo-total") == str(len(ids)))
    assert _text(d, "#nav a.active") == "Work orders"
    _no_overflow(d, "workorders-en")
    # a page of 2 still says the true total
    d.get(console.base + "/ui/#/workorders?limit=2")
    _wait(d, lambda x: len(_css(x, "#wo-table tbody tr[data-id]")) == 2)
    assert _text(d, "#wo-total") == str(len(ids)) and _text(d, "#wo-page-count").endswith(f"of {len(ids)}")
    # the SLA filter: none is late yet
    d.get(console.base + "/ui/#/workorders?sla=breached")
    _wait(d, lambda x: _text(x, "#wo-total") == "0")
    # act on the oldest-due order: assign, start, resolve, verify by re-probe
    d.get(console.base + "/ui/#/workorders")
    oid = ids[0]
    row = f"#wo-table tr[data-id='{oid}']"
    _wait(d, lambda x: _css(x, f"{row} button[data-step=assign]"))
    d.execute_script("window.prompt = (q, dflt) => (q.includes('fixed') ? '换了电源' : '王师傅');")
    for step in ("assign", "start", "resolve", "verify"):
        _wait(d, lambda x, s=step: _css(x, f"{row} button[data-step={s}]"))
        _css(d, f"{row} button[data-step={step}]")[0].click()
    _wait(d, lambda x: "reopened" in _text(x, "#toast"))
    with sqlite_vigil.db.session() as s:
        wo = s.get(WorkOrder, oid)
        assert wo.state == "assigned" and wo.assigned_to == "王师傅"
        assert [(e.get("from"), e["to"]) for e in wo.history] == [(None, "open"),
            ("open", "assigned"), ("assigned", "in_progress"), ("in_progress", "resolved"), ("resolved", "assigned")]
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.target == f"workorder:{oid}")).all()
        assert {"workorder.assigned", "workorder.in_progress", "workorder.resolved"} <= set(actions)
    # the order's history, and the page in Chinese
    _wait(d, lambda x: _css(x, f"{row} td"))
    d.execute_script(f"document.querySelector(\"{row} td.num\").click()")
    _wait(d, lambda x: len(_css(x, "#wo-detail table.wo-history tbody tr")) == 5)
    d.execute_script("const s = document.getElementById('lang-switch'); s.value = 'zh-CN';"
                     "s.dispatchEvent(new Event('change'));")
    _wait(d, lambda x: _text(x, "#nav a.active") == "工单" and _css(x, "#wo-table tbody tr[data-id]"))
    assert "派单" in _text(d, "#wo-table") or "改派" in _text(d, "#wo-table")
    _no_overflow(d, "workorders-zh")
    d.execute_script("const s = document.getElementById('lang-switch'); s.value = 'en';"
                     "s.dispatchEvent(new Event('change'));")
    _wait(d, lambda x: _text(x, "#nav a.active") == "Work orders")
    assert browser_errors(d) == []


def test_alarm_and_down_pages_count_everything(chrome, console: City, sqlite_vigil) -> None:
    ids = _seed_orders(sqlite_vigil, console)
    d = chrome
    _fresh(d)
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, "#camera-table tbody tr"))
    d.get(console.base + "/ui/#/alarms?limit=2")
    _wait(d, lambda x: _text(x, "#al-total") == str(len(ids)) and len(_css(x, "#alarm-table tbody tr[data-id]")) == 2)
    _no_overflow(d, "alarms")
    d.get(console.base + "/ui/#/down?limit=2")
    _wait(d, lambda x: _text(x, "#down-total") == str(len(ids)) and len(_css(x, "#down-table tbody tr[data-id]")) == 2)
    _css(d, "#down-page-next")[0].click()
    _wait(d, lambda x: "offset=2" in x.current_url and _css(x, "#down-table tbody tr[data-id]"))
    _no_overflow(d, "cameras-down")
    # Live view is not offered for a camera that is down: not in the table, not on its page
    first_down = d.execute_script("return document.querySelector('#down-table tbody tr[data-id]').dataset.id")
    d.get(console.base + f"/ui/#/cameras?q={first_down}")
    _wait(d, lambda x: x.execute_script("return [...document.querySelectorAll('#camera-table tbody tr[data-id]')]"
                                        ".map(r => r.dataset.id).join()") == first_down)
    assert not _css(d, f"#camera-table tr[data-id='{first_down}'] a[href^='live.html']")
    d.get(console.base + f"/ui/#/camera/{first_down}")
    _wait(d, lambda x: _css(x, "#live-down"))
    assert not _css(d, "#live-link")
    d.get(console.base + "/ui/#/dashboard?region=530181")
    _wait(d, lambda x: _text(x, "#dash-wo-total") == str(len(ids)) and _text(x, "#dash-alarms-total") == str(len(ids)))
    assert _text(d, "#dash-down-total") == str(len(ids))
    _no_overflow(d, "dashboard")
    assert browser_errors(d) == []


@pytest.mark.parametrize(("user", "lands", "sees", "hidden"), [
    ("admin", "cameras", {"audit", "workorders", "plans"}, set()),
    ("fixer", "workorders", {"workorders", "alarms", "down"}, {"audit", "plans", "recordings"}),
    ("town-officer", "cameras", {"recordings", "alarms"}, {"audit", "plans"}),
    ("auditor1", "cameras", {"audit"}, {"plans", "recordings"}),
    ("planner1", "cameras", {"plans"}, {"audit", "recordings"}),
])
def test_each_role_lands_and_sees_its_pages(chrome, console: City, sqlite_vigil, user, lands, sees, hidden) -> None:
    _seed_orders(sqlite_vigil, console)
    d = chrome
    _fresh(d)
    _sign_in(d, console, user, None if user == "admin" else "a-long-password")
    _wait(d, lambda x: _text(x, "#nav a.active") != "" and _text(x, "#whoami").startswith(user))
    routes = set(d.execute_script("return [...document.querySelectorAll('#nav a')].map(a => a.dataset.route)"))
    assert d.execute_script("return document.querySelector('#nav a.active').dataset.route") == lands
    assert sees <= routes and not (hidden & routes), routes
