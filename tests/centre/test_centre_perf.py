"""Performance arithmetic and the monthly report (HTML and PDF, Chinese and English)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vigil.centre import perf
from vigil.centre.models import Incident, RoundRun, ShiftDef
from vigil.core.errors import InputError
from vigil.health.models import Alarm, MaintenanceTeam, WorkOrder

SH = ZoneInfo("Asia/Shanghai")
T = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 Shanghai, inside the day shift


def _rows() -> perf.Rows:
    day = ShiftDef(region_code="5301", name="day", start_minute=480, hours=8, response_minutes=10)
    runs = [RoundRun(region_code="530101", officer="ann", due_at=T, state="done", late=False),
            RoundRun(region_code="530101", officer="ann", due_at=T, state="done", late=True),
            RoundRun(region_code="530101", officer="", due_at=T, state="missed")]
    a_fast = Alarm(region_code="530101", raised_at=T, acknowledged_by="ann",
                   detail={"acknowledged_at": (T + timedelta(minutes=5)).isoformat()})
    a_slow = Alarm(region_code="530101", raised_at=T, acknowledged_by="bob",
                   detail={"acknowledged_at": (T + timedelta(minutes=30)).isoformat()})
    wo = WorkOrder(opened_at=T, due_at=T + timedelta(hours=24), closed_at=T + timedelta(hours=30))
    team = MaintenanceTeam(name="t", contractor="Acme O&M", sla_hours=24)
    wo2 = WorkOrder(opened_at=T, due_at=T + timedelta(hours=24), closed_at=T + timedelta(hours=2))
    return perf.Rows(runs=runs, alarms=[(a_fast, wo2), (a_slow, wo)],
                     incidents=[Incident(assignee="bob", status="closed")], orders=[(wo, team), (wo2, team)],
                     shifts=[day], teams_of={"ann": "A squad", "bob": "A squad"})


def test_summarise_counts_by_person_team_shift_and_contractor():
    p = perf.summarise(_rows(), SH)
    ann, bob = p.people["ann"], p.people["bob"]
    assert (ann.rounds, ann.on_time, ann.late, ann.acked_in_time, ann.closed_in_sla) == (2, 1, 1, 1, 1)
    assert (bob.alarms, bob.acked_in_time, bob.closed_in_sla, bob.incidents) == (1, 0, 0, 1)
    assert p.teams["A squad"].rounds == 2 and p.teams["A squad"].incidents == 1
    day = p.shifts["5301 day"]
    assert (day.rounds, day.missed, day.alarms, day.acked_in_time) == (3, 1, 2, 1)
    assert p.contractors["Acme O&M"] == {"closed": 2, "sla_hours": 24, "median_hours": 16.0, "within_sla": 1}


@pytest.mark.parametrize(("lang", "word"), [("zh", "按时完成"), ("en", "On time")])
def test_report_in_both_languages(lang, word):
    p = perf.summarise(_rows(), SH)
    page = perf.report_html(p, month="2026-03", region="5301", lang=lang)
    assert word in page and "<script" not in page and "ann" in page
    pdf = perf.report_pdf(p, month="2026-03", region="5301", lang=lang)
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 4


def test_month_range_and_bad_input():
    start, end = perf.month_range("2026-12", SH)
    assert (start.month, end.year, end.month) == (12, 2027, 1) and start.tzinfo is SH
    with pytest.raises(InputError):
        perf.month_range("2026-13", SH)
    with pytest.raises(InputError):
        perf.report_html(perf.Performance(), month="2026-03", region="5301", lang="fr")
