// City budget: one budget across every site of a region (sites with a polygon and building data).
// The list with a form that queues a city plan job and follows its progress bar (#/city_plan), and one plan: its figures, ranked work packages,
// city map, coverage-against-budget curve, marginal cost of the next percent per site and the reports.
import { api } from "../api.js";
import { h, mount, toast } from "../dom.js";
import { num, pct, when } from "../labels.js";
import { formatMoney, formatNumber, lang, t } from "../i18n.js";
import { kpiCard, rateTone, table } from "../widgets.js";
import { followJob } from "./plan_form.js";

export const regionAware = true;
const LEVELS = [["detect", "Detect (25 px/m)"], ["observe", "Observe (62.5 px/m)"], ["recognise", "Recognise (125 px/m)"]];

function field(text, input, hint = "") {
  return h("label", { class: "field" }, h("span", {}, t(text)), h("span", {}, input,
    hint ? h("small", { class: "muted" }, ` ${t(hint)}`) : null));
}

function cityForm(region, onDone) {
  const regionIn = h("input", { name: "region_code", required: true, value: region || "", class: "mono",
    placeholder: t("city or town code") });
  const area = h("input", { name: "area_name", required: true, placeholder: t("e.g. city-buildings.geojson") });
  const budget = h("input", { name: "budget", type: "number", min: 0, step: 1000, required: true, value: 1000000 });
  const name = h("input", { name: "name", placeholder: t("e.g. 2027 blind-spot programme") });
  const level = h("select", { name: "level" }, LEVELS.map(([v, text]) => h("option", { value: v,
    selected: v === "observe" }, t(text))));
  const limit = h("input", { name: "point_time_limit", type: "number", min: 0.5, max: 30, step: 0.5, value: 2 });
  const submit = h("button", { type: "submit", class: "primary", id: "city-submit" }, t("Plan the city"));
  const status = h("span", { class: "muted", role: "status" });
  const form = h("form", { class: "card form-grid", id: "city-form" }, h("h2", {}, t("New city budget plan")),
    field("Region", regionIn), field("Building layer", area, "a file or folder under <home>/areas"),
    field("Budget (yuan)", budget), field("Name", name), field("Level", level),
    field("Time limit", limit, "seconds for the solver at each breakpoint"), h("div", { class: "actions" }, submit, status));
  const progress = h("div", { class: "plan-progress", id: "city-progress", hidden: true });
  form.append(progress);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      const job = await api("/city-plans", { method: "POST", body: { region_code: regionIn.value.trim(),
        area_name: area.value.trim(), budget: Number(budget.value), name: name.value, level: level.value,
        point_time_limit: Number(limit.value) } });
      status.textContent = t("Pricing every site… this can take several minutes for a whole city.");
      followJob(progress, job, (end) => {
        submit.disabled = false;
        status.textContent = "";
        if (end.state === "done") onDone({ id: end.plan_id });
        else if (end.state === "failed") toast(t("City plan failed: {{error}}", { error: end.error || "" }), 10000);
      });
    } catch (e) {
      submit.disabled = false;
      status.textContent = "";
      toast(t("City plan failed: {{error}}", { error: e.message }), 10000);
    }
  });
  return form;
}

function coverage(pl) {
  return pl.coverage_before === null || pl.coverage_before === undefined ? "—"
    : `${pct(pl.coverage_before)} → ${pct(pl.coverage_after)}`;
}

async function listView(el, route, ctx) {
  const res = await api("/city-plans", { query: { limit: 200 } });
  const region = route.params.get("region");
  const items = res.items.filter((pl) => !region || (pl.region_code || "").startsWith(region));
  const formSlot = h("div", {});
  const show = h("button", { type: "button", id: "city-new" }, t("New city plan…"));
  show.addEventListener("click", () => {
    mount(formSlot, cityForm(region, (pl) => ctx.navigate("city_plan", {}, String(pl.id))));
    show.hidden = true;
  });
  mount(el, h("div", { class: "view-head" }, h("h1", {}, t("City budget")), show), formSlot, table([
    ["Plan", (pl) => h("a", { href: ctx.hashFor("city_plan", {}, String(pl.id)), lang: "zh" }, pl.name || `#${pl.id}`)],
    ["Region", (pl) => h("span", { class: "mono" }, pl.region_code || "—")],
    ["Budget", (pl) => formatMoney(pl.budget), "num"], ["Sites", (pl) => num(pl.sites), "num"],
    ["Coverage", coverage], ["New cameras", (pl) => num(pl.cameras_new), "num"],
    ["Cost", (pl) => formatMoney(pl.cost_new), "num"],
    ["Against a uniform split", (pl) => (pl.ratio_to_uniform ? `× ${formatNumber(pl.ratio_to_uniform)}` : "—"), "num"],
    ["Created", (pl) => `${when(pl.created_at)} · ${pl.created_by}`],
  ], items, { empty: "No city plan yet.", cls: "city-plans", rowAttrs: (pl) => ({ dataset: { id: pl.id } }) }));
  return null;
}

function cards(s) {
  const gap = s.gap ?? null;
  return h("div", { class: "grid cols-4", id: "city-cards" },
    kpiCard("Coverage (weighted)", pct(s.coverage_after), t("before {{pct}}", { pct: pct(s.coverage_before) }),
      { tone: rateTone(s.coverage_after, 0.95, 0.8), id: "city-coverage" }),
    kpiCard("Spent", formatMoney(s.cost_new), t("of {{budget}}", { budget: formatMoney(s.budget) })),
    kpiCard("New cameras", num(s.cameras_new), t("{{n}} sites", { n: num(s.sites) })),
    kpiCard("Against a uniform split", s.ratio_to_uniform ? `× ${formatNumber(s.ratio_to_uniform, { maximumFractionDigits: 2 })}` : "—",
      t("uniform split reaches {{pct}}", { pct: pct(s.uniform?.coverage_after) }), { id: "city-ratio" }),
    kpiCard("Proof", s.exact ? t("Optimal") : t("Feasible"), `${s.exact ? t("optimal over the breakpoints")
      : t("feasible over the breakpoints")} · ${t("any plan: gap at most {{pct}}", { pct: pct(gap) })}`,
    { tone: gap !== null && gap > 0.01 ? "warn" : "ok", id: "city-proof" }));
}

function packages(s) {
  return table([
    ["Rank", (r) => num(r.rank), "num"], ["Site", (r) => h("span", { lang: "zh" }, r.name)],
    ["Class", (r) => String(r.protection_class), "num"], ["Cameras", (r) => num(r.cameras), "num"],
    ["Models", (r) => Object.entries(r.models).map(([m, n]) => `${m} × ${n}`).join(", ")],
    ["Cost", (r) => formatMoney(r.cost), "num"], ["Before", (r) => pct(r.coverage_before), "num"],
    ["After", (r) => pct(r.coverage_after), "num"],
  ], s.packages || [], { empty: "No work package within this budget.", cls: "city-packages" });
}

function marginal(s) {
  const rows = [...(s.site_table || [])].sort((a, b) => (a.marginal_yuan_per_point ?? Infinity)
    - (b.marginal_yuan_per_point ?? Infinity));
  return table([
    ["Site", (r) => h("span", { lang: "zh" }, r.name)], ["After", (r) => pct(r.coverage_after), "num"],
    ["Next percent", (r) => (r.marginal_yuan_per_point === null ? t("fully covered")
      : formatMoney(r.marginal_yuan_per_point)), "num"],
  ], rows, { cls: "city-marginal" });
}

async function detailView(el, id) {
  const pl = await api(`/city-plans/${encodeURIComponent(id)}`);
  const s = pl.summary || {};
  const code = lang() === "zh-CN" ? "zh" : "en";
  const file = (n) => pl.files?.[n];
  const link = (n, text) => h("a", { class: "button-link secondary", href: file(n), target: "_blank", rel: "noopener" },
    t(text));
  const img = (n, title) => h("section", { class: "card" }, h("h2", {}, t(title)),
    h("img", { src: file(n), alt: n, class: "report-img", loading: "lazy" }));
  mount(el, h("div", { class: "view-head" }, h("a", { href: "#/city_plan", class: "crumbs" }, t("← City budget")),
    h("h1", { lang: "zh" }, pl.name || `#${pl.id}`)),
  h("div", { class: "actions" }, link(`report.${code}.html`, "Report"), link(`report.${code}.pdf`, "Report (PDF)"),
    h("a", { class: "button-link secondary", href: file("packages.geojson"), download: "packages.geojson" },
      "⬇ packages.geojson")),
  cards(s),
  h("h2", { class: "section-title" }, t("Work packages (ranked by gain per yuan)")), packages(s),
  h("div", { class: "grid cols-2" }, img(`map.${code}.png`, "City map (sites coloured by coverage gained)"),
    img(`curve.${code}.png`, "City-wide coverage against budget")),
  h("h2", { class: "section-title" }, t("Marginal cost of the next percent per site")), marginal(s),
  (s.skipped || []).length ? h("p", { class: "muted", id: "city-skipped" }, t("{{n}} sites left out (no polygon or no building data)",
    { n: num(s.skipped.length) })) : null);
  return null;
}

/** Render the city plans (#/city_plan) or one city plan (#/city_plan/ID). */
export async function render(el, route, ctx) {
  return route.arg ? detailView(el, route.arg, ctx) : listView(el, route, ctx);
}
