"""Performance by the centre's rules (奖惩的依据), per person, team and shift, and the monthly report.

Figures for a period and a scope:

* rounds: runs due (or started) in the period, done on time, late, missed;
* alarms: raised in the period and acknowledged within the response time of the shift on duty when
  they were raised (15 minutes where no shift is defined); closed within their work order's SLA;
* incidents handled: closed in the period, per assignee;
* contractors: work orders closed in the period, median repair hours and the share within the SLA.

The arithmetic (:func:`summarise`) is pure; :func:`gather` loads the rows. The report is HTML (and a
PDF drawn with matplotlib's ``PdfPages``, whose CJK font comes from :mod:`vigil.charts`) in Chinese
or English.
"""

from __future__ import annotations

import html
import io
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.guard import Scope
from vigil.centre.duty import DEFAULT_RESPONSE_MINUTES, shift_window
from vigil.centre.models import Incident, RoundRun, ShiftDef
from vigil.charts import report_fonts
from vigil.core.errors import InputError
from vigil.core.models import User
from vigil.health.models import Alarm, MaintenanceTeam, WorkOrder

__all__ = ["LANGS", "Performance", "gather", "month_range", "report_html", "report_pdf", "summarise"]

LANGS = ("zh", "en")


def month_range(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """``"2026-03"`` → the month's start and end as aware datetimes in ``tz``."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise InputError(f"month {month!r}: expected YYYY-MM") from None
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (datetime.combine(first, datetime.min.time(), tz), datetime.combine(nxt, datetime.min.time(), tz))


@dataclass
class Tally:
    """One row of the table: a person, a team, a shift or a contractor."""

    rounds: int = 0
    on_time: int = 0
    late: int = 0
    missed: int = 0
    alarms: int = 0
    acked_in_time: int = 0
    closed_in_sla: int = 0
    incidents: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Performance:
    """The tallies of a period."""

    people: dict[str, Tally] = field(default_factory=dict)
    teams: dict[str, Tally] = field(default_factory=dict)
    shifts: dict[str, Tally] = field(default_factory=dict)
    contractors: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"people": {k: v.as_dict() for k, v in sorted(self.people.items())},
                "teams": {k: v.as_dict() for k, v in sorted(self.teams.items())},
                "shifts": {k: v.as_dict() for k, v in sorted(self.shifts.items())},
                "contractors": dict(sorted(self.contractors.items()))}


@dataclass(frozen=True, slots=True)
class Rows:
    """What :func:`summarise` reads (loaded by :func:`gather`)."""

    runs: list[RoundRun]
    alarms: list[tuple[Alarm, WorkOrder | None]]
    incidents: list[Incident]
    orders: list[tuple[WorkOrder, MaintenanceTeam | None]]
    shifts: list[ShiftDef]
    teams_of: dict[str, str]


def _shift_at(shifts: Iterable[ShiftDef], region: str, at: datetime | None, tz: ZoneInfo) -> ShiftDef | None:
    if at is None:
        return None
    hits = [s for s in shifts if region.startswith(s.region_code) and shift_window(s.start_minute, s.hours, at, tz)]
    return max(hits, key=lambda s: len(s.region_code)) if hits else None


def _ack_at(a: Alarm) -> datetime | None:
    text = (a.detail or {}).get("acknowledged_at")
    return datetime.fromisoformat(text) if text else None


def summarise(rows: Rows, tz: ZoneInfo) -> Performance:
    """Pure arithmetic over loaded rows."""
    perf = Performance()

    def tallies(person: str, shift: ShiftDef | None) -> list[Tally]:
        out = []
        if person:
            out.append(perf.people.setdefault(person, Tally()))
            out.append(perf.teams.setdefault(rows.teams_of.get(person) or "-", Tally()))
        if shift is not None:
            out.append(perf.shifts.setdefault(f"{shift.region_code} {shift.name}", Tally()))
        return out

    for run in rows.runs:
        for t in tallies(run.officer, _shift_at(rows.shifts, run.region_code, run.due_at or run.started_at, tz)):
            t.rounds += 1
            t.missed += run.state == "missed"
            t.late += run.state == "done" and run.late
            t.on_time += run.state == "done" and not run.late
    for a, wo in rows.alarms:
        shift = _shift_at(rows.shifts, a.region_code, a.raised_at, tz)
        limit = timedelta(minutes=shift.response_minutes if shift else DEFAULT_RESPONSE_MINUTES)
        ack = _ack_at(a)
        for t in tallies(a.acknowledged_by, shift):
            t.alarms += 1
            t.acked_in_time += ack is not None and ack - a.raised_at <= limit
            t.closed_in_sla += wo is not None and wo.closed_at is not None and wo.closed_at <= wo.due_at
    for inc in rows.incidents:
        for t in tallies(inc.assignee, None):
            t.incidents += 1
    by: dict[str, list[WorkOrder]] = defaultdict(list)
    sla: dict[str, float] = {}
    for wo, team in rows.orders:
        name = (team.contractor or team.name) if team else "-"
        by[name].append(wo)
        sla[name] = team.sla_hours if team else 24.0
    for name, orders in by.items():
        hours = [(wo.closed_at - wo.opened_at).total_seconds() / 3600 for wo in orders if wo.closed_at]
        perf.contractors[name] = {"closed": len(hours), "sla_hours": sla[name],
                                  "median_hours": round(statistics.median(hours), 2) if hours else None,
                                  "within_sla": sum(h <= sla[name] for h in hours)}
    return perf


def gather(session: Session, *, scope: Scope, start: datetime, end: datetime) -> Rows:
    """Load the rows of a period in ``scope``."""
    runs = session.scalars(select(RoundRun).where(scope.clause(RoundRun.region_code),
                                                  ((RoundRun.due_at >= start) & (RoundRun.due_at < end))
                                                  | (RoundRun.due_at.is_(None) & (RoundRun.started_at >= start)
                                                     & (RoundRun.started_at < end))))
    alarms = session.execute(select(Alarm, WorkOrder).outerjoin(WorkOrder, WorkOrder.alarm_id == Alarm.id)
                             .where(scope.clause(Alarm.region_code), Alarm.raised_at >= start, Alarm.raised_at < end))
    incs = session.scalars(select(Incident).where(scope.clause(Incident.region_code), Incident.status == "closed",
                                                  Incident.closed_at >= start, Incident.closed_at < end))
    orders = session.execute(select(WorkOrder, MaintenanceTeam)
                             .outerjoin(MaintenanceTeam, MaintenanceTeam.id == WorkOrder.team_id)
                             .where(scope.clause(WorkOrder.region_code), WorkOrder.closed_at >= start,
                                    WorkOrder.closed_at < end))
    shifts = session.scalars(select(ShiftDef).where(scope.clause(ShiftDef.region_code)))
    teams = {name: team for name, team in session.execute(select(User.name, User.team))}
    return Rows(list(runs), [(a, w) for a, w in alarms], list(incs), [(w, t) for w, t in orders], list(shifts),
                teams)


# ----------------------------------------------------------------------------- the report
_T = {
    "title": {"zh": "监控中心月度考核报告", "en": "Monitoring centre monthly report"},
    "region": {"zh": "区域", "en": "Region"}, "month": {"zh": "月份", "en": "Month"},
    "people": {"zh": "人员", "en": "People"}, "teams": {"zh": "班组", "en": "Teams"},
    "shifts": {"zh": "班次", "en": "Shifts"}, "contractors": {"zh": "运维单位", "en": "O&M contractors"},
    "name": {"zh": "名称", "en": "Name"}, "rounds": {"zh": "巡逻次数", "en": "Rounds"},
    "on_time": {"zh": "按时完成", "en": "On time"}, "late": {"zh": "迟到", "en": "Late"},
    "missed": {"zh": "漏巡", "en": "Missed"}, "alarms": {"zh": "告警", "en": "Alarms"},
    "acked_in_time": {"zh": "及时确认", "en": "Acked in time"},
    "closed_in_sla": {"zh": "时限内关闭", "en": "Closed within SLA"},
    "incidents": {"zh": "处置事件", "en": "Incidents handled"}, "closed": {"zh": "关闭工单", "en": "Orders closed"},
    "sla_hours": {"zh": "时限(小时)", "en": "SLA (h)"}, "median_hours": {"zh": "修复中位数(小时)", "en": "Median repair (h)"},
    "within_sla": {"zh": "时限内", "en": "Within SLA"}, "none": {"zh": "无记录", "en": "No records"},
}
_TALLY_COLS = ("rounds", "on_time", "late", "missed", "alarms", "acked_in_time", "closed_in_sla", "incidents")
_CONTRACTOR_COLS = ("closed", "sla_hours", "median_hours", "within_sla")


def _tr(key: str, lang: str) -> str:
    return _T[key][lang]


def _tables(perf: Performance, lang: str) -> list[tuple[str, list[str], list[list[str]]]]:
    d = perf.as_dict()
    out = []
    for part in ("people", "teams", "shifts"):
        rows = [[k] + [str(v[c]) for c in _TALLY_COLS] for k, v in d[part].items()]
        out.append((_tr(part, lang), [_tr("name", lang)] + [_tr(c, lang) for c in _TALLY_COLS], rows))
    rows = [[k] + ["-" if v[c] is None else str(v[c]) for c in _CONTRACTOR_COLS] for k, v in d["contractors"].items()]
    out.append((_tr("contractors", lang), [_tr("name", lang)] + [_tr(c, lang) for c in _CONTRACTOR_COLS], rows))
    return out


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise InputError(f"language {lang!r}: one of {', '.join(LANGS)}")


def report_html(perf: Performance, *, month: str, region: str, lang: str) -> str:
    """The monthly report as one HTML page (no scripts, no external files)."""
    _check_lang(lang)
    e = html.escape
    parts = [f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
             f"<title>{e(_tr('title', lang))} {e(month)}</title></head><body>",
             f"<h1>{e(_tr('title', lang))}</h1><p>{e(_tr('region', lang))}: {e(region)} · "
             f"{e(_tr('month', lang))}: {e(month)}</p>"]
    for title, head, rows in _tables(perf, lang):
        parts.append(f"<h2>{e(title)}</h2>")
        if not rows:
            parts.append(f"<p>{e(_tr('none', lang))}</p>")
            continue
        parts.append("<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr></thead><tbody>")
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows]
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def report_pdf(perf: Performance, *, month: str, region: str, lang: str) -> bytes:
    """The monthly report as a PDF: one page per table, drawn by matplotlib."""
    from matplotlib.backends.backend_pdf import PdfPages  # loaded here: every CLI start would pay for it
    from matplotlib.figure import Figure

    _check_lang(lang)
    buf = io.BytesIO()
    with report_fonts(), PdfPages(buf) as pdf:
        for title, head, rows in _tables(perf, lang):
            fig = Figure(figsize=(11.7, 8.3))
            fig.suptitle(f"{_tr('title', lang)} · {region} · {month}\n{title}")
            ax = fig.add_subplot()
            ax.axis("off")
            if rows:
                ax.table(cellText=rows[:40], colLabels=head, loc="upper center").auto_set_font_size(True)
            else:
                ax.text(0.5, 0.5, _tr("none", lang), ha="center")
            pdf.savefig(fig)
    return buf.getvalue()
