"""The city plan's report, in Chinese and English.

Ranked work packages, a city map, the coverage-against-budget curve, the marginal cost of the next percent
per site; as city.json, packages.geojson and, in Chinese and English,
map.<lang>.png, curve.<lang>.png, report.<lang>.html and report.<lang>.pdf (drawn by matplotlib, fonts
from :mod:`vigil.charts`).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from vigil.charts import report_fonts
from vigil.coverage.city_alloc import CLASS_WEIGHT, HOUSEHOLD_SIZE
from vigil.coverage.geo import geojson_dump
from vigil.coverage.report import ATTRIBUTION

if TYPE_CHECKING:
    from vigil.coverage.city import CityPlan

__all__ = ["CITY_FILES", "LANGS", "city_summary", "write_city_report"]

LANGS = ("zh", "en")
CITY_FILES = {**{f"report.{lang}.html": "text/html" for lang in LANGS},
              **{f"report.{lang}.pdf": "application/pdf" for lang in LANGS},
              **{f"{n}.{lang}.png": "image/png" for lang in LANGS for n in ("map", "curve")},
              "packages.geojson": "application/geo+json", "city.json": "application/json"}
_T: dict[str, tuple[str, str]] = {
    "title": ("全市视频监控补盲预算方案", "City video coverage: one budget across all sites"),
    "budget": ("预算", "Budget"), "spent": ("使用", "Spent"), "sites": ("站点", "Sites"),
    "cov_before": ("建设前覆盖率（加权）", "Coverage before (weighted)"),
    "cov_after": ("建设后覆盖率（加权）", "Coverage after (weighted)"),
    "cams_new": ("新增摄像机", "New cameras"), "uniform": ("平均分配预算（对照）", "Uniform split of the budget (baseline)"),
    "per_yuan": ("每万元提升的加权覆盖（百分点）", "Weighted coverage gained per 10,000 yuan (points)"),
    "ratio": ("相对平均分配", "Against the uniform split"),
    "bound": ("证明", "Proof"), "packages": ("工程包（按每元收益排序）", "Work packages (ranked by gain per yuan)"),
    "rank": ("序号", "Rank"), "site": ("站点", "Site"), "class": ("保护等级", "Class"),
    "cameras": ("摄像机", "Cameras"), "models": ("型号", "Models"), "cost": ("费用（元）", "Cost (yuan)"),
    "before": ("建设前", "Before"), "after": ("建设后", "After"),
    "marginal": ("各站点下一个百分点的边际成本", "Marginal cost of the next percent per site"),
    "next_pct": ("元/百分点", "yuan per point"), "full": ("已全覆盖", "fully covered"),
    "map": ("全市地图（按覆盖提升着色）", "City map (sites coloured by coverage gained)"),
    "curve": ("全市覆盖率与预算", "City-wide coverage against budget"),
    "skipped": ("未纳入的站点", "Sites left out"), "reason": ("原因", "Reason"),
    "weights": ("权重规则", "Weighting rule"), "none": ("无", "none"),
    "gain_pts": ("提升（百分点）", "gain (points)"), "optimal": ("最优方案", "optimal allocation"),
    "budget_axis": ("预算（万元）", "budget (10,000 yuan)"), "coverage_axis": ("加权覆盖率（%）", "weighted coverage (%)"),
    "study": ("站点全覆盖研究", "site study (full cover)"),
}


_RULE_ZH = (f"保护等级权重 {CLASS_WEIGHT} × 人数 ÷ 有人数站点的人数中位数（户数 × {HOUSEHOLD_SIZE}）；"
            "无人数的站点按中位数计")


def _t(key: str, lang: str) -> str:
    return _T[key][0 if lang == "zh" else 1]


def _pct(x: float | None) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f} %"


def _marginal(points: list[Any], k: int) -> float | None:
    """Yuan per percentage point from option ``k`` to the next breakpoint of higher coverage."""
    here = points[k]
    for p in points[k + 1:]:
        if p.coverage > here.coverage + 1e-9 and p.cost > here.cost:
            return round((p.cost - here.cost) / (100 * (p.coverage - here.coverage)), 1)
    return None


def _site_rows(plan: CityPlan) -> list[dict[str, Any]]:
    rows = []
    for i, (s, c) in enumerate(zip(plan.sites, plan.curves, strict=True)):
        pt = c.points[int(plan.choice[i])]
        w = float(plan.weights[i])
        rows.append({"key": s.key, "name": s.name, "site_id": s.site_id, "region_code": s.region_code,
                     "kind": s.kind, "protection_class": s.protection_class, "weight": round(w, 4),
                     "targets": c.targets, "cameras_existing": c.cameras_existing,
                     "coverage_before": round(c.before, 4), "coverage_after": round(pt.coverage, 4),
                     "coverable": round(c.coverable, 4), "cost": pt.cost, "cameras": len(pt.cameras),
                     "models": pt.models(), "status": pt.status, "weighted_gain": round(w * (pt.coverage - c.before), 5),
                     "marginal_yuan_per_point": _marginal(c.points, int(plan.choice[i])),
                     "curve": [{"cost": p.cost, "coverage": round(p.coverage, 4), "lower_bound": round(p.lower_bound, 1),
                                "status": p.status} for p in c.points]})
    return rows


def _downsample(xs: np.ndarray, ys: np.ndarray, n: int = 200) -> list[dict[str, float]]:
    idx = np.unique(np.linspace(0, len(xs) - 1, min(n, len(xs))).round().astype(int))
    return [{"budget": round(float(xs[i]), 2), "coverage": round(float(ys[i]), 5)} for i in idx]


def city_summary(plan: CityPlan) -> dict[str, Any]:
    """Everything the report shows, as JSON (also the plan record's summary)."""
    rows = _site_rows(plan)
    packages = sorted((r for r in rows if r["cost"] > 0), key=lambda r: -r["weighted_gain"] / r["cost"])
    for n, r in enumerate(packages, start=1):
        r["rank"] = n
    w = plan.weights
    total_w = float(w.sum()) or 1.0
    before = float(sum(wi * c.before for wi, c in zip(w, plan.curves, strict=True))) / total_w
    targets = sum(c.targets for c in plan.curves) or 1
    b = plan.options.budget

    def per(g: float) -> float | None:  # weighted coverage points gained per 10,000 yuan of budget
        return round(1e4 * 100 * g / total_w / b, 4) if b > 0 else None

    gap = 0.0 if plan.bound <= 0 else max(0.0, 1 - plan.gain / plan.bound)
    return {
        "name": plan.options.name or "city", "mode": "city", "level": plan.options.level,
        "profile": plan.options.profile, "budget": b, "sites": len(plan.sites), "targets": targets,
        "coverable_share": round(sum(c.coverable * c.targets for c in plan.curves) / targets, 4),
        "coverage_before": round(before, 4), "coverage_after": round(before + plan.gain / total_w, 4),
        "targets_coverage_before": round(sum(c.before * c.targets for c in plan.curves) / targets, 4),
        "targets_coverage_after": round(sum(r["coverage_after"] * r["targets"] for r in rows) / targets, 4),
        "cameras_existing": sum(c.cameras_existing for c in plan.curves),
        "cameras_new": sum(r["cameras"] for r in rows), "cost_new": round(plan.cost, 2),
        "weighted_gain": round(plan.gain, 5), "bound": round(plan.bound, 5), "gap": round(gap, 5),
        "exact": plan.exact, "solver": "multiple-choice knapsack (dynamic programming over cost)",
        "status": "optimal" if plan.exact else "within_bound",
        "uniform": {"cost": round(plan.uniform_cost, 2), "weighted_gain": round(plan.uniform_gain, 5),
                    "coverage_after": round(before + plan.uniform_gain / total_w, 4),
                    "points_per_10k_yuan": per(plan.uniform_gain)},
        "points_per_10k_yuan": per(plan.gain),
        "ratio_to_uniform": round(plan.gain / plan.uniform_gain, 3) if plan.uniform_gain > 0 else None,
        "weights_rule": f"class weight {CLASS_WEIGHT} x people / median people of the sites that carry them "
                        f"(households x {HOUSEHOLD_SIZE}); sites without a head count count as the median",
        "packages": packages, "site_table": rows,
        "communities": [{"name": r["name"], "targets": r["targets"], "coverage_before": r["coverage_before"],
                         "coverage_after": r["coverage_after"]} for r in rows],
        "skipped": [{"name": s.name, "reason": s.reason} for s in plan.skipped],
        "curve": _downsample(plan.curve_cost, plan.curve_coverage),
        "uniform_curve": [{"budget": round(x, 2), "coverage": round(y, 5)} for x, y in plan.uniform_curve],
        "seconds": dict(plan.seconds), "attribution": ATTRIBUTION,
    }


def _xy(plan: CityPlan) -> tuple[list[np.ndarray], float]:
    """Site outlines in a flat lon/lat frame (x scaled by cos(latitude))."""
    rings = []
    for s in plan.sites:
        g = s.outline
        polys = [g["coordinates"]] if g.get("type") == "Polygon" else g.get("coordinates", [])
        rings.append(np.concatenate([np.asarray(p[0], float) for p in polys]) if polys else np.zeros((0, 2)))
    lat0 = float(np.mean([r[:, 1].mean() for r in rings if len(r)])) if rings else 0.0
    return rings, math.cos(math.radians(lat0))


def _map(plan: CityPlan, summary: dict[str, Any], lang: str) -> Figure:
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    fig = Figure(figsize=(11, 9))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    rings, kx = _xy(plan)
    gains = [100 * (r["coverage_after"] - r["coverage_before"]) for r in summary["site_table"]]
    norm = Normalize(0, max(max(gains, default=1), 1))
    cmap = colormaps["YlGn"]
    ranks = {r["key"]: r["rank"] for r in summary["packages"]}
    for s, ring, g in zip(plan.sites, rings, gains, strict=True):
        if not len(ring):
            continue
        x, y = ring[:, 0] * kx, ring[:, 1]
        ax.fill(x, y, color=cmap(norm(g)), ec="#37474f", lw=0.6)
        if s.key in ranks:
            ax.annotate(str(ranks[s.key]), (x.mean(), y.mean()), ha="center", va="center", fontsize=7)
    fig.colorbar(_mappable(cmap, norm), ax=ax, label=_t("gain_pts", lang))
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(_t("map", lang))
    ax.text(0.01, 0.01, ATTRIBUTION, transform=ax.transAxes, fontsize=7)
    return fig


def _mappable(cmap: Any, norm: Any) -> Any:
    from matplotlib.cm import ScalarMappable

    return ScalarMappable(norm=norm, cmap=cmap)


def _curve(summary: dict[str, Any], lang: str) -> Figure:
    fig = Figure(figsize=(11, 5.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = [c["budget"] / 1e4 for c in summary["curve"]]
    ax.plot(xs, [100 * c["coverage"] for c in summary["curve"]], c="#1565c0", label=_t("optimal", lang))
    ax.plot([c["budget"] / 1e4 for c in summary["uniform_curve"]],
            [100 * c["coverage"] for c in summary["uniform_curve"]], c="#ef6c00", ls="--", label=_t("uniform", lang))
    ax.axvline(summary["budget"] / 1e4, c="#616161", lw=0.8)
    ax.scatter([summary["budget"] / 1e4], [100 * summary["coverage_after"]], c="#1565c0", zorder=3)
    ax.set_xlabel(_t("budget_axis", lang))
    ax.set_ylabel(_t("coverage_axis", lang))
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(_t("curve", lang))
    return fig


def _facts(s: dict[str, Any], lang: str) -> list[list[str]]:
    u = s["uniform"]
    proof = (f"{'已证明为断点上的最优解' if lang == 'zh' else 'optimal over the breakpoints (proven)'}"
             if s["exact"] else ("断点上可行解" if lang == "zh" else "feasible over the breakpoints"))
    bound = (f"{proof}; {'任意方案的上界' if lang == 'zh' else 'bound for any plans'}: "
             f"{'差距' if lang == 'zh' else 'gap'} ≤ {100 * s['gap']:.1f} %")
    return [[_t("budget", lang), f"{s['budget']:,.0f}"], [_t("spent", lang), f"{s['cost_new']:,.0f}"],
            [_t("sites", lang), str(s["sites"])], [_t("cams_new", lang), str(s["cameras_new"])],
            [_t("cov_before", lang), _pct(s["coverage_before"])], [_t("cov_after", lang), _pct(s["coverage_after"])],
            [_t("per_yuan", lang), str(s["points_per_10k_yuan"])],
            [_t("uniform", lang), f"{_pct(u['coverage_after'])} ({u['points_per_10k_yuan']})"],
            [_t("ratio", lang), "—" if s["ratio_to_uniform"] is None else f"× {s['ratio_to_uniform']}"],
            [_t("bound", lang), bound], [_t("weights", lang), s["weights_rule"] if lang == "en" else _RULE_ZH]]


def _package_rows(s: dict[str, Any], lang: str) -> tuple[list[str], list[list[str]]]:
    head = [_t(k, lang) for k in ("rank", "site", "class", "cameras", "models", "cost", "before", "after")]
    return head, [[str(r["rank"]), r["name"], str(r["protection_class"]), str(r["cameras"]),
                   ", ".join(f"{m}×{n}" for m, n in sorted(r["models"].items())), f"{r['cost']:,.0f}",
                   _pct(r["coverage_before"]), _pct(r["coverage_after"])] for r in s["packages"]]


def _marginal_rows(s: dict[str, Any], lang: str) -> tuple[list[str], list[list[str]]]:
    head = [_t("site", lang), _t("after", lang), _t("next_pct", lang)]
    return head, [[r["name"], _pct(r["coverage_after"]),
                   _t("full", lang) if r["marginal_yuan_per_point"] is None else f"{r['marginal_yuan_per_point']:,.0f}"]
                  for r in sorted(s["site_table"], key=lambda r: (r["marginal_yuan_per_point"] is None,
                                                                    r["marginal_yuan_per_point"] or 0))]


def _table_html(head: list[str], rows: list[list[str]], lang: str) -> str:
    e = html.escape
    if not rows:
        return f"<p>{e(_t('none', lang))}</p>"
    return ("<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows) + "</tbody></table>")


def _html(s: dict[str, Any], lang: str) -> str:
    e = html.escape
    skipped = [[k["name"], k["reason"]] for k in s["skipped"]]
    parts = [f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
             f"<title>{e(_t('title', lang))}: {e(s['name'])}</title><style>body{{font-family:sans-serif;margin:2em;"
             "max-width:1100px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
             "padding:3px 8px;text-align:left}img{max-width:100%}</style></head><body>",
             f"<h1>{e(_t('title', lang))}: {e(s['name'])}</h1>",
             _table_html(["", ""], _facts(s, lang), lang),
             f"<h2>{e(_t('packages', lang))}</h2>", _table_html(*_package_rows(s, lang), lang),
             f'<h2>{e(_t("map", lang))}</h2><img src="map.{lang}.png" alt="{e(_t("map", lang))}">',
             f'<h2>{e(_t("curve", lang))}</h2><img src="curve.{lang}.png" alt="{e(_t("curve", lang))}">',
             f"<h2>{e(_t('marginal', lang))}</h2>", _table_html(*_marginal_rows(s, lang), lang),
             f"<h2>{e(_t('skipped', lang))}</h2>", _table_html([_t("site", lang), _t("reason", lang)], skipped, lang),
             f"<p>{e(ATTRIBUTION)}.</p></body></html>"]
    return "\n".join(parts)


def _pdf_table(pdf: PdfPages, title: str, head: list[str], rows: list[list[str]], lang: str, per_page: int = 32,
               widths: list[float] | None = None) -> None:
    for start in range(0, max(len(rows), 1), per_page):
        fig = Figure(figsize=(11.69, 8.27))
        FigureCanvasAgg(fig)
        fig.text(0.5, 0.95, title, ha="center", fontsize=14, weight="bold")
        ax = fig.add_axes((0.04, 0.04, 0.92, 0.86))
        ax.axis("off")
        chunk = rows[start:start + per_page]
        if chunk:
            tab = ax.table(cellText=chunk, colLabels=head or None, loc="upper center", cellLoc="left",
                           colWidths=widths)
            tab.auto_set_font_size(False)
            tab.set_fontsize(7)
            tab.scale(1, 1.2)
        else:
            fig.text(0.5, 0.8, _t("none", lang), ha="center")
        pdf.savefig(fig)


def _write_pdf(path: Path, s: dict[str, Any], figs: list[Figure], lang: str) -> None:
    with PdfPages(path, metadata={"Title": f"{_t('title', lang)}: {s['name']}", "Creator": "Vigil"}) as pdf:
        _pdf_table(pdf, f"{_t('title', lang)}: {s['name']}", [], [[k, v[:110]] for k, v in _facts(s, lang)], lang)
        for fig in figs:
            pdf.savefig(fig)
        _pdf_table(pdf, _t("packages", lang), *_package_rows(s, lang), lang,
                   widths=[0.05, 0.16, 0.06, 0.06, 0.4, 0.09, 0.09, 0.09])
        _pdf_table(pdf, _t("marginal", lang), *_marginal_rows(s, lang), lang)


def _package_features(plan: CityPlan, s: dict[str, Any]) -> list[dict[str, Any]]:
    ranks = {r["key"]: r["rank"] for r in s["packages"]}
    feats = []
    for i, (site, c) in enumerate(zip(plan.sites, plan.curves, strict=True)):
        for cam in c.points[int(plan.choice[i])].cameras:
            props = {k: v for k, v in cam.items() if k not in ("lon", "lat")}
            feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [cam["lon"], cam["lat"]]},
                          "properties": {**props, "status": "new", "site": site.name, "site_key": site.key,
                                         "site_id": site.site_id, "package": ranks.get(site.key)}})
    return feats


def write_city_report(plan: CityPlan, out_dir: str | Path) -> dict[str, Any]:
    """Write every file of :data:`CITY_FILES` into ``out_dir`` and return the summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    s = city_summary(plan)
    geojson_dump(out / "packages.geojson", _package_features(plan, s))
    with report_fonts():
        for lang in LANGS:
            figs = [_map(plan, s, lang), _curve(s, lang)]
            figs[0].savefig(out / f"map.{lang}.png", dpi=100, bbox_inches="tight")
            figs[1].savefig(out / f"curve.{lang}.png", dpi=100, bbox_inches="tight")
            (out / f"report.{lang}.html").write_text(_html(s, lang), encoding="utf-8")
            _write_pdf(out / f"report.{lang}.pdf", s, figs, lang)
    (out / "city.json").write_text(json.dumps(s, indent=1, ensure_ascii=False), encoding="utf-8")
    return s
