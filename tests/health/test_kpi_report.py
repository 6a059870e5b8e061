"""The daily report of a town: HTML and PDF with charts, Chinese names, today's alarms and orders."""

from __future__ import annotations

import re
from datetime import date, timedelta

from healthkit import T0, add_camera

from vigil.core.models import Region
from vigil.health.alarms import sync_alarms
from vigil.health.models import CameraStatus, StatusChange
from vigil.health.report import daily_report, gather_daily

H = timedelta(hours=1)


def test_daily_report_html_and_pdf(tree, tmp_path):
    v = tree
    with v.db.session() as s:
        s.get(Region, "53010201").name = "金马街道"
        s.get(Region, "53010201001").name = "东村社区"
        a = add_camera(s, "53010201001", 1)
        b = add_camera(s, "53010201002", 2)
        s.add_all([StatusChange(camera_id=a, ts=T0 - H, state="online"),
                   StatusChange(camera_id=a, ts=T0 + 6 * H, state="down"),
                   StatusChange(camera_id=b, ts=T0 - H, state="online")])
        s.add_all([CameraStatus(camera_id=a, state="down", since=T0 + 6 * H),
                   CameraStatus(camera_id=b, state="online", since=T0 - H)])
        s.flush()
        sync_alarms(s, T0 + 6.1 * H)
    data = gather_daily(v, "53010201", date(2026, 11, 1))
    assert data["region"].online_rate == (24 + 6) / 48
    assert len(data["hourly"]) == 24 and len(data["week"]) == 7
    assert [al["kind"] for al in data["alarms"]] == ["offline"] and len(data["orders"]) == 1
    files = daily_report(v, "53010201", date(2026, 11, 1), tmp_path / "out")
    html = files.html.read_text(encoding="utf-8")
    assert "金马街道" in html and "东村社区" in html
    assert html.count("data:image/png;base64,") == 3
    assert "62.50 %" in html                                 # the town's online rate
    pdf = files.pdf.read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 7     # summary, 3 charts, sub-regions, alarms, orders
