// Coverage plans: the list with the plan jobs in progress, and each plan's summary, per-community coverage,
// map and apply button.
import { api, apiOptional } from "../api.js";
import { h, message, mount, toast } from "../dom.js";
import { duration, num, pct, when } from "../labels.js";
import { GlMap } from "../mapgl.js";
import { bounds } from "../mercator.js";
import { consoleConfig, loadRegionOutlines } from "../geo.js";
import { kpiCard, rateTone, table } from "../widgets.js";
import { followJob, levelName, planForm, stageName } from "./plan_form.js";
import { formatMoney, formatNumber, t } from "../i18n.js";

export const regionAware = true;
const PLAN_COLORS = { existing: "#4cc2ff", new: "#3ecf8e" };
const APPLY_ROLES = new Set(["admin", "planner"]);

function gain(pl) {
  if (pl.coverage_before === null || pl.coverage_before === undefined) return "—";
  return `${pct(pl.coverage_before)} → ${pct(pl.coverage_after)}`;
}

function money(v) {
  return formatMoney(v);
}

/** Queued and running plan jobs in scope, each with its progress bar (server-sent events) and a cancel button. */
async function activeJobs(ctx) {
  const res = await apiOptional("/plans/jobs", { query: { active: true } }, { items: [] });
  const followers = [];
  const cards = res.items.map((j) => {
    const slot = h("div", {});
    followers.push(followJob(slot, j, (end) => {
      if (end.state === "done") {
        slot.append(h("a", { href: ctx.hashFor("plans", {}, String(end.plan_id)) }, t("Open the plan")));
      }
    }));
    return h("section", { class: "card plan-job", dataset: { job: j.id } }, h("strong", { lang: "zh" },
      j.name || t("Plan job {{id}}", { id: j.id })), ` · ${j.created_by} · ${when(j.created_at)}`, slot);
  });
  return { nodes: cards.length ? [h("h2", { class: "section-title" }, t("Plan jobs in progress")), ...cards] : [],
    stop: () => followers.forEach((f) => f.stop()) };
}

async function listView(el, route, ctx) {
  const [res, jobs] = await Promise.all([api("/plans", { query: { limit: 200 } }), activeJobs(ctx)]);
  const region = route.params.get("region");
  const items = res.items.filter((pl) => !region || (pl.region_code || "").startsWith(region));
  const showForm = h("button", { type: "button", id: "plan-new" }, t("New plan…"));
  const formSlot = h("div", {});
  showForm.addEventListener("click", () => {
    mount(formSlot, planForm(region, (pl) => ctx.navigate("plans", {}, String(pl.id))));
    showForm.hidden = true;
  });
  mount(el, h("div", { class: "view-head" }, h("h1", {}, t("Coverage plans")),
    ["admin", "planner"].includes(ctx.user.role) ? showForm : null), formSlot, jobs.nodes,
  table([
    ["Plan", (pl) => h("a", { href: ctx.hashFor("plans", {}, String(pl.id)), lang: "zh" }, pl.name || t("Plan {{id}}", { id: pl.id }))],
    ["Region", (pl) => h("span", { class: "mono" }, pl.region_code || "—")], ["Level", (pl) => levelName(pl.level)],
    ["Coverage", gain], ["New cameras", (pl) => num(pl.cameras_new), "num"], ["Cost", (pl) => money(pl.cost_new), "num"],
    ["Solver", (pl) => `${pl.solver || "—"}${pl.gap !== null && pl.gap !== undefined ? ` · ${t("gap {{pct}}", { pct: pct(pl.gap, 2) })}${pl.gap > GAP_WARN ? " ⚠" : ""}` : ""}`],
    ["Created", (pl) => `${when(pl.created_at)} · ${pl.created_by}`],
    ["Applied", (pl) => (pl.applied_at ? h("span", { class: "badge ok" }, when(pl.applied_at)) : "—")],
  ], items, { empty: "No plan yet.", cls: "plans", rowAttrs: (pl) => ({ dataset: { id: pl.id } }) }));
  return { destroy: jobs.stop };
}

// The proven gap in words (optimize.gap_words says the same in the HTML report); a warning above 1 %.
const GAP_WARN = 0.01;
function proofText(s) {
  if (s.gap === null || s.gap === undefined) {
    return s.status === "heuristic" ? t("not proven: a heuristic plan, without a bound") : t("no cost bound (greatest coverage within the budget)");
  }
  if (s.status === "optimal" || s.gap <= 1e-6) return t("proven the cheapest possible plan");
  return t("proven within {{pct}} of the cheapest possible plan", { pct: pct(s.gap, s.gap >= 0.001 ? 1 : 2) });
}

function proofNote(s) {
  const text = h("p", { class: "proof", id: "plan-proof" }, proofText(s));
  let warn = null;
  if (s.status === "heuristic") {
    warn = t("No bound was computed, so this plan may cost more than the cheapest possible one.");
  } else if (s.gap !== null && s.gap !== undefined && s.gap > GAP_WARN) {
    warn = t("The proven gap is {{pct}}, above 1 %: a cheaper plan may exist; a longer time limit can tighten the proof.", { pct: pct(s.gap, 1) });
  } else if (s.status === "time_limit" && !(s.gap <= 1e-6)) {  // stopped early, not proven the cheapest
    warn = t("The solver stopped at its time limit before it finished: a longer time limit may find a cheaper plan.");
  }
  return [text, warn ? h("p", { class: "message error", id: "plan-gap-warning", role: "alert" }, warn) : null];
}

function summaryCards(pl) {
  const s = pl.summary || {};
  // the run's own total when it has one (summing every entry would count the stages twice)
  const stages = Object.entries(s.seconds || {}).filter(([k]) => k !== "total");
  const secs = Number(s.seconds?.total) || stages.reduce((a, [, v]) => a + (Number(v) || 0), 0);
  return h("div", { class: "grid cols-4", id: "plan-cards" },
    kpiCard("Coverage", pct(s.coverage_after), t("before {{pct}}", { pct: pct(s.coverage_before) }),
      { tone: rateTone(s.coverage_after, 0.95, 0.8), id: "plan-coverage" }),
    kpiCard("New cameras", num(s.cameras_new), t("{{n}} existing kept", { n: num(s.cameras_existing) }), { id: "plan-new-cams" }),
    kpiCard("Cost", money(s.cost_new), t("new cameras")),
    kpiCard("Targets", num(s.targets), t("{{n}} coverable · level {{level}}", { n: num(s.coverable), level: levelName(s.level) })),
    kpiCard("Solver", (s.solver || "—").replaceAll("+", "+\u200b"), `${proofText(s)} · ${t("bound {{bound}}", { bound: s.lower_bound ?? "—" })}`),
    kpiCard("Time", duration(secs), stages.map(([k, v]) => `${stageName(k)} ${t("{{n}} s", { n: formatNumber(Number(v), { maximumFractionDigits: 1 }) })}`)
      .join(" · "), { id: "plan-time" }));
}

function communities(pl) {
  const rows = pl.summary?.communities || [];
  if (!rows.length) return null;
  const bar = (x) => h("span", {}, h("span", { class: `meter ${rateTone(x, 0.95, 0.8)}` },
    h("i", { style: { width: `${(x || 0) * 100}%` } })), pct(x));
  return [h("h2", { class: "section-title" }, t("Coverage per community")), table([
    ["Community", (c) => h("span", { lang: "zh" }, c.name)], ["Before", (c) => bar(c.coverage_before)],
    ["After", (c) => bar(c.coverage_after)],
  ], rows, { cls: "communities" })];
}

async function planMap(slot, pl) {
  const [plan, targets, config] = await Promise.all([apiOptional(`/plans/${pl.id}/files/plan.geojson`),
    apiOptional(`/plans/${pl.id}/files/targets.geojson`), consoleConfig()]);
  const cams = (plan?.features || []).map((f, i) => ({ ...f.properties, id: String(f.properties?.id ?? `new-${i}`),
    name: `${f.properties?.status || ""} ${f.properties?.model || ""}`.trim(), lifecycle: f.properties?.status,
    lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1] }));
  const pts = (targets?.features || []).map((f) => ({ lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1],
    color: f.properties?.covered_after ? "rgba(62, 207, 142, .55)" : "#ff5d5d" }));
  const map = new GlMap(slot, { tileUrl: config.tile_url || null, wedges: true,
    colorOf: (c) => PLAN_COLORS[c.status] || "#8ea3bb" });
  map.start();
  map.setData({ cameras: cams, points: pts });
  // the region's outline (or its town's), if any: drawn when it comes, the map does not wait for it
  if (pl.region_code) {
    loadRegionOutlines(pl.region_code, { ancestors: true }).then((regions) => map.setData({ regions }), () => {});
  }
  map.fitBounds(bounds([...cams, ...pts].map((c) => [c.lon, c.lat])));
  return map;
}

async function applyPlan(pl, btn) {
  if (!window.confirm(t("Add the {{n}} new cameras of this plan to the registry as planned?", { n: pl.summary?.cameras_new ?? "" }))) {
    return;
  }
  btn.disabled = true;
  try {
    const res = await api(`/plans/${pl.id}/apply`, { method: "POST" });
    btn.replaceWith(h("span", { class: "badge ok", id: "plan-applied" }, t("{{n}} planned cameras added", { n: num(res.cameras.length) })));
  } catch (e) {
    btn.disabled = false;
    toast(t("Apply failed: {{error}}", { error: e.message }));
  }
}

async function detailView(el, id, ctx) {
  const pl = await api(`/plans/${encodeURIComponent(id)}`);
  const file = (n) => pl.files?.[n] || `/api/v1/plans/${pl.id}/files/${n}`;
  const mapSlot = h("div", { class: "map-wrap", id: "plan-map", style: { height: "520px", flex: "none" } });
  const apply = !pl.applied_at && APPLY_ROLES.has(ctx.user.role)
    ? h("button", { type: "button", class: "primary", id: "plan-apply" }, t("Apply: add new cameras as planned")) : null;
  apply?.addEventListener("click", () => applyPlan(pl, apply));
  mount(el, h("div", { class: "view-head" }, h("a", { href: "#/plans", class: "crumbs" }, t("← Plans")),
    h("h1", { lang: "zh" }, pl.name || t("Plan {{id}}", { id: pl.id })),
    pl.applied_at ? h("span", { class: "badge ok" }, t("applied {{when}}", { when: when(pl.applied_at) })) : null),
  h("div", { class: "actions" }, apply,
    h("a", { class: "button-link secondary", href: file("report.html"), target: "_blank", rel: "noopener" }, t("Report")),
    ["plan.geojson", "targets.geojson", "summary.json"].map((n) => h("a", { class: "button-link secondary",
      href: file(n), download: n }, `⬇ ${n}`))),
  summaryCards(pl), proofNote(pl.summary || {}),
  h("h2", { class: "section-title" }, t("Map · existing (blue) and new (green) cameras with their range; red dots are targets left uncovered")),
  mapSlot, communities(pl),
  h("div", { class: "grid cols-2" },
    h("section", { class: "card" }, h("h2", {}, t("Plan map (report)")), h("img", { src: file("map.png"), alt: "map.png",
      class: "report-img", loading: "lazy" })),
    h("section", { class: "card" }, h("h2", {}, t("Coverage against cameras and cost")), h("img", { src: file("tradeoff.png"),
      alt: "tradeoff.png", class: "report-img", loading: "lazy" }))));
  const map = await planMap(mapSlot, pl).catch((e) => { mount(mapSlot, message(e.message, "error")); return null; });
  return { destroy: () => map?.destroy() };
}

/** Render the plans list (#/plans) or one plan (#/plans/ID). */
export async function render(el, route, ctx) {
  return route.arg ? detailView(el, route.arg, ctx) : listView(el, route, ctx);
}
