"""A full shift in the centre page, in real headless Chromium: sign on, run a round, mark an abnormal view,
hand over, and acknowledge on the other side."""

from __future__ import annotations

from pathlib import Path

import pytest
from console_world import City, browser_errors
from sqlalchemy import select

from vigil.access.guard import Scope
from vigil.access.users import add_user
from vigil.centre import duty, rounds
from vigil.centre.models import Handover, RoundRun, RoundView
from vigil.core.context import Vigil
from vigil.core.models import AuditEntry, Camera, utcnow
from vigil.health.models import Alarm, WorkOrder

pytestmark = pytest.mark.browser
WAIT_S = 20
VILLAGE = "53018101001"


def _wait(driver, cond, timeout: float = WAIT_S):  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05,
                             ignored_exceptions=[StaleElementReferenceException]).until(cond)
    except TimeoutException:
        text = driver.find_element("tag name", "body").text[:1500]
        pytest.fail(f"timed out at {driver.current_url}\npage: {text}\nconsole: {browser_errors(driver)}")


def _css(driver, sel: str):  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, sel)


def _text(driver, sel: str) -> str:  # type: ignore[no-untyped-def]
    return driver.execute_script("return document.querySelector(arguments[0])?.innerText ?? ''", sel)


def _open_centre(driver, city: City, user: str) -> None:  # type: ignore[no-untyped-def]
    driver.delete_all_cookies()
    driver.get(city.base + "/ui/login.html")
    _wait(driver, lambda d: _css(d, "#username"))
    _css(driver, "#username")[0].send_keys(user)
    _css(driver, "#password")[0].send_keys("a-long-password")
    _css(driver, "#login-submit")[0].click()
    _wait(driver, lambda d: "login.html" not in d.current_url)
    driver.get(city.base + "/ui/centre.html")
    _wait(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "1")
    assert user in _text(driver, "#whoami")


def _seed(v: Vigil) -> tuple[int, list[str]]:
    with v.db.session() as s:
        for name in ("ann", "bob"):
            add_user(s, name, "a-long-password", "duty_officer", ["53018101"])
        shift = duty.define_shift(s, region_code="53018101", name="day", start="08:00", scope=Scope.everything(),
                                  actor="test")
        cams = sorted(s.scalars(select(Camera.id).where(Camera.region_code == VILLAGE,
                                                        Camera.lifecycle == "in_service")))[:2]
        rounds.create_round(s, region_code="53018101", name="gates", cameras=[{"camera_id": c} for c in cams],
                            dwell_s=120, checklist=["picture clear"], scope=Scope.everything(), actor="test")
        cam = s.get(Camera, cams[0])
        s.add(Alarm(camera_id=cam.id, region_code=cam.region_code, kind="offline", state="active",
                    raised_at=utcnow()))
        return shift.id, cams


def test_a_full_shift_in_the_browser(chrome, console: City, sqlite_vigil: Vigil, shots: Path) -> None:
    d = chrome
    shift_id, cams = _seed(sqlite_vigil)
    _open_centre(d, console, "ann")
    _css(d, "#sign-on")[0].click()
    _wait(d, lambda x: _css(x, '#on-duty li[data-user="ann"]'))
    _wait(d, lambda x: _css(x, "#my-alarms .ack-alarm"))  # the alarm in the centre is routed to ann
    _css(d, "#my-alarms .ack-alarm")[0].click()
    _wait(d, lambda x: "acknowledged by ann" in _text(x, "#my-alarms li"))

    _css(d, ".start-round")[0].click()
    _wait(d, lambda x: len(_css(x, "#wall-tiles .centre-tile")) == 2)
    assert "current" in _css(d, f'.centre-tile[data-camera="{cams[0]}"]')[0].get_attribute("class")
    _css(d, "#wall-checklist .check")[0].click()
    _css(d, "#mark-normal")[0].click()
    _wait(d, lambda x: "current" in _css(x, f'.centre-tile[data-camera="{cams[1]}"]')[0].get_attribute("class"))
    _css(d, "#view-note")[0].send_keys("camera moved off the gate")
    from selenium.webdriver.support.ui import Select

    Select(_css(d, "#view-follow")[0]).select_by_value("workorder")
    _css(d, "#mark-abnormal")[0].click()
    _wait(d, lambda x: len(_css(x, "#wall-views li")) == 2)
    assert "work order" in _text(d, '#wall-views li[data-status="abnormal"]')
    # the wall moves on by itself when the dwell time runs out
    before = d.execute_script("return window.vigilCentre.index")
    d.execute_script("window.vigilCentre.left = 1")
    _wait(d, lambda x: x.execute_script("return window.vigilCentre.index") != before)
    _css(d, "#finish-run")[0].click()
    _wait(d, lambda x: "finished" in _text(x, "#wall-state"))

    _css(d, "#handover-notes")[0].send_keys("gate 2 camera moved; work order open")
    _css(d, "#write-handover")[0].click()
    _wait(d, lambda x: "waiting for the next shift" in _text(x, "#handovers li"))
    d.save_screenshot(str(shots / "centre-outgoing.png"))
    assert not browser_errors(d)

    _open_centre(d, console, "bob")
    _css(d, "#sign-on")[0].click()
    _wait(d, lambda x: _css(x, '#on-duty li[data-user="bob"]'))
    _wait(d, lambda x: _css(x, ".ack-handover"))
    _css(d, ".ack-handover")[0].click()
    _wait(d, lambda x: "acknowledged by bob" in _text(x, "#handovers li"))
    d.save_screenshot(str(shots / "centre-incoming.png"))
    assert not browser_errors(d)
    d.execute_script("localStorage.setItem('vigil_locale', 'zh-CN')")  # the console's language choice
    d.refresh()
    _wait(d, lambda x: x.execute_script("return document.body.dataset.ready") == "1")
    assert _text(d, "#centre-title") == "监控中心" and "确认人 bob" in _text(d, "#handovers li")
    d.execute_script("localStorage.removeItem('vigil_locale')")

    with sqlite_vigil.db.session() as s:
        h = s.scalars(select(Handover)).one()
        assert (h.outgoing, h.incoming, h.shift_id) == ("ann", "bob", shift_id) and h.acked_at is not None
        assert "gate 2" in h.notes and h.items["work_orders"], "the open work order was not handed over"
        run = s.scalars(select(RoundRun)).one()
        assert (run.officer, run.state) == ("ann", "done")
        views = {v.camera_id: v for v in s.scalars(select(RoundView))}
        assert views[cams[0]].status == "normal" and views[cams[0]].checks == {"picture clear": True}
        bad = views[cams[1]]
        assert bad.status == "abnormal" and s.get(WorkOrder, bad.order_id).camera_id == cams[1]
        acts = {(e.actor, e.action) for e in s.scalars(select(AuditEntry))}
        assert ("ann", "alarm.ack") in acts
        assert {("ann", "centre.handover.write"), ("bob", "centre.handover.ack"), ("ann", "centre.duty.on")} <= acts
