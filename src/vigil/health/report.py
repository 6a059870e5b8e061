"""The daily health report of a town: KPIs, charts, alarms and work orders, as HTML and PDF.

Charts are drawn with matplotlib's Agg backend on ``Figure`` objects (no pyplot, no
global state) and embedded in the HTML as PNG data URIs; the PDF is written with
matplotlib's ``PdfPages``, so nothing beyond matplotlib is needed. Chinese region
names use a Noto CJK font when one is installed (Debian ``fonts-noto-cjk``), and fall
back to DejaVu Sans otherwise (CJK glyphs then show as boxes, nothing fails).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from sqlalchemy import select

from vigil.charts import report_fonts
from vigil.core.context import Vigil
from vigil.core.ids import validate_region_code
from vigil.core.regions import in_subtrees
from vigil.health.alarms import alarm_json
from vigil.health.kpi import compute_kpis, kpi_timeline
from vigil.health.models import Alarm, WorkOrder
from vigil.i18n import normalize, translator

__all__ = ["ReportFiles", "daily_report", "gather_daily"]


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """Where the report was written."""

    html: Path
    pdf: Path


def gather_daily(vigil: Vigil, region_code: str, day: date) -> dict[str, Any]:
    """Everything the daily report shows, as plain data (also useful to the API)."""
    code = validate_region_code(region_code)
    # the local day of the instance (Asia/Shanghai: 00:00 local is 16:00 UTC the day before)
    zone = vigil.settings.zone
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    with vigil.db.session() as s:
        kpis = compute_kpis(s, code, period=timedelta(days=1), end=end, depth=1, now=end)
        hourly = kpi_timeline(s, code, period=timedelta(days=1), step=timedelta(hours=1), end=end)
        week = kpi_timeline(s, code, period=timedelta(days=7), step=timedelta(days=1), end=end)
        alarms = [alarm_json(a) for a in s.scalars(
            select(Alarm).where(in_subtrees(Alarm.region_code, [code]), Alarm.raised_at < end,
                                (Alarm.cleared_at.is_(None)) | (Alarm.cleared_at >= start))
            .order_by(Alarm.raised_at).limit(500))]
        orders = [{"id": w.id, "camera_id": w.camera_id, "region_code": w.region_code, "state": w.state,
                   "assigned_to": w.assigned_to, "opened_at": w.opened_at.isoformat(),
                   "due_at": w.due_at.isoformat(), "breached": w.breached or (w.closed_at or end) > w.due_at}
                  for w in s.scalars(select(WorkOrder).where(
                      in_subtrees(WorkOrder.region_code, [code]), WorkOrder.opened_at < end,
                      (WorkOrder.closed_at.is_(None)) | (WorkOrder.closed_at >= start))
                      .order_by(WorkOrder.due_at).limit(500))]
    return {"region": kpis.regions[0], "children": kpis.regions[1:], "contractors": kpis.contractors,
            "hourly": hourly, "week": week, "alarms": alarms, "orders": orders, "day": day,
            "generated_at": datetime.now(UTC)}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f} %"


def _rate_chart(series: list[dict[str, Any]], title: str, fmt: str) -> Figure:
    fig = Figure(figsize=(8, 3.2), dpi=110)
    ax = fig.add_subplot()
    xs = [datetime.fromisoformat(b["start"]).strftime(fmt) for b in series]
    for key, label in (("online_rate", "online rate"), ("integrity_rate", "integrity rate")):
        ax.plot(xs, [100 * (b[key] or 0) for b in series], marker="o", markersize=3, label=label)
    ax.set_ylim(0, 101)
    ax.set_ylabel("%")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    ax.tick_params(axis="x", labelrotation=60 if len(xs) > 10 else 0, labelsize=7)
    fig.tight_layout()
    return fig


def _children_chart(children: list[Any], title: str) -> Figure:
    fig = Figure(figsize=(8, 0.5 + 0.35 * max(3, len(children))), dpi=110)
    ax = fig.add_subplot()
    names = [f"{c.name} ({c.region_code})" for c in children]
    ys = range(len(children))
    ax.barh([y + 0.2 for y in ys], [100 * (c.online_rate or 0) for c in children], height=0.4, label="online")
    ax.barh([y - 0.2 for y in ys], [100 * (c.integrity_rate or 0) for c in children], height=0.4,
            label="integrity")
    ax.set_yticks(list(ys), names, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("%")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def _figures(data: dict[str, Any], lang: str = "en") -> list[tuple[str, Figure]]:
    _ = translator(lang).gettext
    figs = [("hourly", _rate_chart(data["hourly"], _("Hourly rates (UTC)"), "%H:%M")),
            ("week", _rate_chart(data["week"], _("Last 7 days"), "%m-%d"))]
    if data["children"]:
        figs.append(("children", _children_chart(data["children"], _("Per sub-region"))))
    return figs


def _png(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode()


def _summary_rows(data: dict[str, Any], lang: str = "en") -> list[tuple[str, str]]:
    _ = translator(lang).gettext
    r = data["region"]
    hours = ("–" if r.repair_median_h is None else f"{r.repair_median_h:.1f} h / {r.repair_p90_h:.1f} h")
    return [(_("Cameras in service"), str(r.cameras)), (_("Online rate (time-weighted)"), _pct(r.online_rate)),
            (_("Online at end of day"), _pct(r.online_now)), (_("Integrity rate"), _pct(r.integrity_rate)),
            (_("Coverage rate"), _pct(r.coverage_rate)), (_("Repairs verified"), str(r.repairs)),
            (_("Repair time median / p90"), hours), (_("Active alarms"), str(r.active_alarms)),
            (_("Open work orders"), str(r.open_workorders)), (_("Breached work orders"), str(r.breached_workorders))]


def _html(data: dict[str, Any], charts: dict[str, str], lang: str = "en") -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("vigil.health", "templates"), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translator(lang), newstyle=True)  # type: ignore[attr-defined]
    return env.get_template("daily_report.html").render(
        d=data, summary=_summary_rows(data, lang), charts=charts, pct=_pct, lang=lang)


def _pdf_text_page(pdf: PdfPages, title: str, rows: list[list[str]], header: list[str]) -> None:
    fig = Figure(figsize=(8.27, 11.69))
    FigureCanvasAgg(fig)
    fig.text(0.5, 0.96, title, ha="center", fontsize=14, weight="bold")
    if rows:
        ax = fig.add_axes((0.05, 0.05, 0.9, 0.87))
        ax.axis("off")
        tab = ax.table(cellText=rows[:45], colLabels=header, loc="upper center", cellLoc="left")
        tab.auto_set_font_size(False)
        tab.set_fontsize(7)
        tab.scale(1, 1.25)
    else:
        fig.text(0.5, 0.85, "none", ha="center")
    pdf.savefig(fig)


def _write_pdf(path: Path, data: dict[str, Any], figs: list[tuple[str, Figure]], lang: str = "en") -> None:
    _ = translator(lang).gettext
    r = data["region"]
    with PdfPages(path, metadata={"Title": f"Daily health report {r.name} {data['day']}", "Creator": "Vigil"}) as pdf:
        title = f"{r.name} ({r.region_code}) — {data['day']:%Y-%m-%d}"
        kids = [[c.region_code, c.name, str(c.cameras), _pct(c.online_rate), _pct(c.integrity_rate),
                 _pct(c.coverage_rate)] for c in data["children"]]
        _pdf_text_page(pdf, f"{_('Daily health report')}: {title}",
                       [list(x) for x in _summary_rows(data, lang)] + [["", ""]], ["KPI", _("value")])
        for _name, fig in figs:
            pdf.savefig(fig)
        _pdf_text_page(pdf, _("Sub-regions"), kids, ["code", "name", "cameras", "online", "integrity", "coverage"])
        _pdf_text_page(pdf, _("Alarms of the day"), [[str(a["id"]), a["camera_id"], a["kind"], a["state"],
                                                  a["raised_at"][:16]] for a in data["alarms"]],
                       ["id", "camera", "kind", "state", "raised (UTC)"])
        _pdf_text_page(pdf, _("Work orders"), [[str(w["id"]), w["camera_id"], w["state"], w["assigned_to"],
                                            w["due_at"][:16], "yes" if w["breached"] else ""] for w in data["orders"]],
                       ["id", "camera", "state", "assigned to", "due (UTC)", "breached"])


def daily_report(vigil: Vigil, region_code: str, day: date, out_dir: str | Path, *, lang: str = "en") -> ReportFiles:
    """Write ``daily-<code>-<day>.html`` and ``.pdf`` into ``out_dir`` (headings in ``lang``) and return their paths."""
    lang = normalize(lang)
    data = gather_daily(vigil, region_code, day)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"daily-{data['region'].region_code}-{day:%Y-%m-%d}"
    with report_fonts():
        figs = _figures(data, lang)
        charts = {name: _png(fig) for name, fig in figs}
        html, pdf = stem.with_suffix(".html"), stem.with_suffix(".pdf")
        html.write_text(_html(data, charts, lang), encoding="utf-8")
        _write_pdf(pdf, data, figs, lang)
    return ReportFiles(html, pdf)
