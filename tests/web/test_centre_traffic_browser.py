"""The centre page's traffic chart, in real headless Chromium: it draws the seeded hourly counts per direction
and the longest queue of the caller's road nodes, and nothing of a node outside the caller's scope."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from console_world import City, browser_errors
from sqlalchemy import select
from test_centre_browser import VILLAGE, _css, _open_centre, _wait

from vigil.access.users import add_user
from vigil.analytics.events import DatabaseSink
from vigil.analytics.models import Event
from vigil.analytics.roadrules import QueueMinute
from vigil.core.context import Vigil
from vigil.core.models import Camera, utcnow

pytestmark = pytest.mark.browser


def _seed(v: Vigil) -> tuple[str, str, datetime]:
    """Crossings 2 and 5 hours ago at a village camera (and one outside the user's region), and a queue."""
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    with v.db.session() as s:
        add_user(s, "ann", "a-long-password", "duty_officer", ["53018101"])
        cam = s.scalars(select(Camera).where(Camera.region_code == VILLAGE).order_by(Camera.id)).first()
        other = s.scalars(select(Camera).where(~Camera.region_code.startswith("53018101"))
                          .order_by(Camera.id)).first()
        plan = [(cam, "forward", 2, 7), (cam, "backward", 2, 3), (cam, "forward", 5, 4), (other, "forward", 2, 9)]
        for c, direction, ago, n in plan:
            for k in range(n):
                at = hour - timedelta(hours=ago) + timedelta(minutes=5 + k)
                s.add(Event(uid=str(uuid4()), camera_id=c.id, region_code=c.region_code, type="line_crossing",
                            label="car", start=at, end=at, zone="lane 1", direction=direction, box=[0, 0, 1, 1],
                            score=0.9))
        cam_id, other_id, region = cam.id, other.id, cam.region_code
    sink = DatabaseSink(v, region)
    sink.record_queue(QueueMinute(cam_id, "north approach", hour - timedelta(hours=2, minutes=-10), 36.5, 6))
    return cam_id, other_id, hour


def _bars(d, direction: str) -> dict[int, tuple[int, float]]:  # type: ignore[no-untyped-def]
    return {int(b.get_attribute("data-bucket")): (int(b.get_attribute("data-value")), float(b.get_attribute("height")))
            for b in _css(d, f'#traffic-chart g.bars[data-direction="{direction}"] rect.bar')}


def test_the_chart_draws_the_seeded_counts_and_queue(chrome, console: City, sqlite_vigil: Vigil, shots: Path) -> None:
    d = chrome
    cam, other, hour = _seed(sqlite_vigil)
    _open_centre(d, console, "ann")
    _wait(d, lambda x: _css(x, "#traffic-chart rect.bar"))
    answer = d.execute_script("return window.vigilCentre.traffic")
    buckets = [datetime.fromisoformat(b) for b in answer["counts"]["buckets"]]
    assert len(buckets) == 24
    at = {ago: buckets.index(hour - timedelta(hours=ago)) for ago in (2, 5)}
    nodes = [o.get_attribute("value") for o in _css(d, "#traffic-node option")]
    assert len(nodes) == 1 and other not in nodes[0]  # the other region's camera is out of ann's scope
    api_node = answer["counts"]["nodes"][0]
    assert api_node["directions"]["forward"][at[2]] == 7 and api_node["total"] == 14
    fwd, back = _bars(d, "forward"), _bars(d, "backward")
    assert {i: v for i, (v, _) in fwd.items() if v} == {at[2]: 7, at[5]: 4}
    assert {i: v for i, (v, _) in back.items() if v} == {at[2]: 3}
    assert [v for _, (v, _) in sorted(fwd.items())] == api_node["directions"]["forward"]
    plot_h = float(d.execute_script("return document.getElementById('traffic-chart').dataset.plotHeight"))
    top = float(d.execute_script("return document.getElementById('traffic-chart').dataset.countMax"))
    assert top == 10  # 7 rounds up to 10
    for i, (v, height) in {**fwd, **{k + 100: x for k, x in back.items()}}.items():
        assert height == pytest.approx(v / top * plot_h, abs=0.01), i
    labels = sorted(t.text for t in _css(d, "#traffic-chart text.bar-label"))
    assert labels == ["3", "4", "7"]
    points = [(int(p.get_attribute("data-bucket")), float(p.get_attribute("data-value")))
              for p in _css(d, "#traffic-chart circle.queue-point")]
    assert points == [(at[2], 36.5)]
    hours = [t.text for t in _css(d, "#traffic-chart text.hour-label")]
    assert f"{buckets[0].astimezone().hour:02d}:00" == hours[0]  # hours are the browser's local time
    d.save_screenshot(str(shots / "centre-traffic.png"))
    assert not browser_errors(d)
    d.execute_script("localStorage.setItem('vigil_locale', 'zh-CN')")
    d.refresh()
    _wait(d, lambda x: _css(x, "#traffic-chart rect.bar"))
    legend = [t.text for t in _css(d, "#traffic-chart text.legend")]
    assert legend == ["反向", "正向", "最长排队"] and _css(d, "#traffic-h")[0].text == "交通"
    d.execute_script("localStorage.removeItem('vigil_locale')")
