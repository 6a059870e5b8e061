// The dashboard: health KPIs (when the health API is there) and registry rollups for the selected region.
import { api, hasApi } from "../api.js";
import { BarChart, DonutChart, LineChart } from "../charts.js";
import { h, mount, toast } from "../dom.js";
import { healthEndpoints } from "../health.js";
import { KINDS, LEVELS, LIFECYCLE_COLORS, LIFECYCLES, OWNERS, duration, label, num, pct, when } from "../labels.js";
import { rememberRegion } from "../regions.js";
import { kpiCard, periodPicker, rateTone, table } from "../widgets.js";
import { localDay, t } from "../i18n.js";
import { FAULTS, WO_STATES } from "./workorders.js";

export const regionAware = true;
const REFRESH_MS = 60000;

function hours(hv) {
  return hv === null || hv === undefined ? "—" : duration(hv * 3600);
}

function meter(x) {
  if (x === null || x === undefined) return "—";
  return h("span", {}, h("span", { class: `meter ${rateTone(x)}` }, h("i", { style: { width: `${x * 100}%` } })),
    pct(x));
}

function kpiCards(top) {
  return h("div", { class: "grid cols-4", id: "kpi-cards" },
    kpiCard("Online rate", pct(top.online_rate, 2), t("online now {{pct}}", { pct: pct(top.online_now) }),
      { tone: rateTone(top.online_rate), id: "kpi-online" }),
    kpiCard("Integrity rate", pct(top.integrity_rate, 2), t("picture intact, time-weighted"),
      { tone: rateTone(top.integrity_rate), id: "kpi-integrity" }),
    kpiCard("Coverage rate", pct(top.coverage_rate), t("{{n}} sites measured", { n: num(top.sites) }),
      { tone: rateTone(top.coverage_rate, 0.9, 0.75) }),
    kpiCard("Repair time", hours(top.repair_median_h), t("median · p90 {{p90}} · {{n}} repairs",
      { p90: hours(top.repair_p90_h), n: num(top.repairs) })),
    kpiCard("Active alarms", num(top.active_alarms), t("{{n}} open work orders", { n: num(top.open_workorders) }),
      { tone: top.active_alarms ? "warn" : "ok" }),
    kpiCard("SLA breached", num(top.breached_workorders), t("work orders past their deadline"),
      { tone: top.breached_workorders ? "bad" : "ok" }));
}

function chartCard(title, cls, make) {
  const canvas = h("canvas", { class: `chart ${cls}`, "aria-label": t(title) });
  const card = h("section", { class: "card" }, h("h2", {}, t(title)), canvas);
  return { card, canvas, make: () => make(canvas) };
}

async function healthSection(slot, region, period, eps, charts, ctx) {
  if (!eps.kpi) return;
  const rep = await api(eps.kpi, { query: { region, period, depth: 1 } });
  const [top, ...kids] = rep.regions || [];
  if (!top) return;
  const parts = [h("h2", { class: "section-title" }, t("Health · {{start}} → {{end}}", { start: when(rep.start), end: when(rep.end) })), kpiCards(top)];
  const grid = h("div", { class: "grid cols-2" });
  if (eps.timeline) {
    const res = await api(eps.timeline, { query: { region, period, step: period === "24h" ? "1h" : "1d" } });
    const tl = Array.isArray(res) ? res : res.buckets || [];
    const cov = tl.some((b) => b.coverage_rate !== null && b.coverage_rate !== undefined);
    const c = chartCard("Online and integrity over time", "tall", (cv) => new LineChart(cv, { // coverage too, once measured
      x: tl.map((b) => b.start), min: null, max: 1, format: (v) => `${(v * 100).toFixed(1)} %`,
      series: [{ name: t("Online"), values: tl.map((b) => b.online_rate), color: "#3ecf8e" },
        { name: t("Integrity"), values: tl.map((b) => b.integrity_rate), color: "#4cc2ff" },
        ...(cov ? [{ name: t("Coverage"), values: tl.map((b) => b.coverage_rate ?? null), color: "#f5b341" }] : [])] }));
    c.canvas.id = "chart-timeline";
    grid.append(c.card);
    charts.push(c);
  }
  if (kids.length) {
    // The worst first: that is where the technicians go tonight.
    const worst = [...kids].sort((a, b) => (a.online_rate ?? -1) - (b.online_rate ?? -1)).slice(0, 12);
    const title = kids.length > worst.length ? t("Lowest online rate ({{n}} of {{total}} sub-regions)",
      { n: worst.length, total: kids.length }) : "Online rate by sub-region";
    const c = chartCard(title, "tall", (cv) => new BarChart(cv, {
      labels: worst.map((k) => k.name), values: worst.map((k) => k.online_rate ?? 0), max: 1,
      colors: worst.map((k) => ({ ok: "#3ecf8e", warn: "#f5b341", bad: "#ff5d5d" })[rateTone(k.online_rate)]
        || "#8ea3bb"),
      format: (v) => `${(v * 100).toFixed(1)} %` }));
    c.canvas.id = "chart-subregions";
    grid.append(c.card);
    charts.push(c);
  }
  parts.push(grid);
  if (kids.length) {
    parts.push(h("h2", { class: "section-title" }, t("Sub-regions")), table([
      ["Region", (k) => h("a", { href: ctx.hashFor("dashboard", { region: k.region_code, period }), lang: "zh" },
        k.name)],
      ["Cameras", (k) => num(k.cameras), "num"], ["Online", (k) => meter(k.online_rate)],
      ["Online now", (k) => pct(k.online_now)], ["Integrity", (k) => meter(k.integrity_rate)],
      ["Coverage", (k) => pct(k.coverage_rate)], ["Repair (median)", (k) => hours(k.repair_median_h)],
      ["Alarms", (k) => num(k.active_alarms), "num"], ["Open WOs", (k) => num(k.open_workorders), "num"],
    ], kids));
  }
  if (rep.contractors?.length) {
    parts.push(h("h2", { class: "section-title" }, t("Repair time per contractor")), table([
      ["Contractor", (c) => c.contractor], ["Repairs", (c) => num(c.repairs), "num"],
      ["Median", (c) => hours(c.repair_median_h)], ["90th percentile", (c) => hours(c.repair_p90_h)],
    ], rep.contractors));
  }
  mount(slot, parts);
}

const ACK_ROLES = new Set(["admin", "duty_officer", "maintenance"]);
const TOP = 10; // the dashboard shows the top items; the full lists have their own pages

/** A section heading with the true total (counted by the server) and a link to the full list. */
function topTitle(text, total, href, id, sub = "") {
  return h("h2", { class: "section-title" }, t(text), " ", h("span", { class: "badge info", id }, num(total)),
    sub ? h("span", { class: "muted" }, ` ${sub}`) : null, " ",
    total > TOP ? h("a", { href, class: "see-all" }, t("top {{n}} · see all →", { n: TOP }))
      : h("a", { href, class: "see-all" }, t("full list →")));
}

async function ackAlarm(a, btn, eps) {
  btn.disabled = true;
  try {
    await api(`${eps.alarms}/${a.id}/ack`, { method: "POST" });
    btn.replaceWith(h("span", { class: "badge ok" }, t("acknowledged")));
  } catch (e) {
    btn.disabled = false;
    toast(t("Acknowledge failed: {{error}}", { error: e.message }));
  }
}

async function alarmsSection(slot, region, eps, ctx) {
  if (!eps.alarms) return;
  const res = await api(eps.alarms, { query: { region, state: "active", limit: TOP } });
  const items = res.items || res;
  const canAck = ACK_ROLES.has(ctx.user.role);
  const ack = (a) => {
    if (a.acknowledged_by) return a.acknowledged_by;
    if (!canAck) return "—";
    const b = h("button", { type: "button", class: "ack", dataset: { alarm: a.id } }, t("Acknowledge"));
    b.addEventListener("click", () => ackAlarm(a, b, eps));
    return b;
  };
  const parts = [topTitle("Active alarms", res.total, ctx.hashFor("alarms", { region }), "dash-alarms-total"), table([
    ["Raised", (a) => when(a.raised_at)],
    ["Camera", (a) => h("a", { href: ctx.hashFor("camera", {}, a.camera_id), class: "mono" }, a.camera_id)],
    ["Kind", (a) => h("span", { class: `badge ${a.severity === "major" || a.severity === "critical" ? "bad"
      : "warn"}` }, label(FAULTS, a.kind))],
    ["Severity", (a) => t(a.severity || "—")], ["Acknowledged", ack],
  ], items, { empty: "No active alarm. All quiet.", cls: "alarms" })];
  if (eps.workorders) {
    const wo = await api(eps.workorders, { query: { region, state: "open", limit: TOP } })
      .catch(() => ({ items: [], total: null }));
    const orders = wo.items || [];
    parts.push(topTitle("Open work orders", wo.total, ctx.hashFor("workorders", { region }), "dash-wo-total"), table([
      ["#", (w) => w.id, "num"], ["Camera", (w) => h("a", { href: ctx.hashFor("camera", {}, w.camera_id),
        class: "mono" }, w.camera_id)],
      ["State", (w) => h("span", { class: `badge ${w.breached ? "bad" : "info"}` }, label(WO_STATES, w.state))],
      ["Assigned to", (w) => w.assigned_to || "—"], ["Opened", (w) => when(w.opened_at)],
      ["Due", (w) => h("span", { class: w.breached ? "error" : "" }, when(w.due_at), w.breached ? ` · ${t("SLA breached")}` : "")],
    ], orders, { empty: "No open work order." }));
  }
  mount(slot, parts);
}

async function downSection(slot, region, eps, ctx) {
  if (!eps.status) return;
  const st = await api(eps.status, { query: { region, limit: TOP } });
  const counts = st.counts || {};
  const now = Date.now();
  mount(slot, topTitle("Down now", counts.down || 0, ctx.hashFor("down", { region }), "dash-down-total",
    t("of {{n}} in service · {{unknown}} not probed yet", { n: num(Object.values(counts).reduce((a, b) => a + b, 0)),
      unknown: num(counts.unknown || 0) })),
  table([
    ["Camera", (c) => h("a", { href: ctx.hashFor("camera", {}, c.camera_id), lang: "zh" }, c.name)],
    ["ID", (c) => h("span", { class: "mono" }, c.camera_id)],
    ["Reason", (c) => h("span", { class: "badge bad" }, t(c.reason || "down"))],
    ["Since", (c) => when(c.since)], ["For", (c) => duration((now - new Date(c.since)) / 1000), "num"],
  ], st.down || [], { empty: "Every probed camera is online.", cls: "down-now" }));
}

/** Where the figures come from, per level: this instance, or a child instance below (with its data's age). */
async function sourcesSection(slot, region, ctx) {
  if (!(await hasApi("/api/v1/federation/sources"))) return;
  const res = await api("/federation/sources", { query: { region } });
  const regions = [res.region, ...res.children];
  if (!regions.some((r) => r.sources.some((s) => s.origin))) return; // every camera is this instance's own
  const rows = regions.flatMap((r, i) => (r.sources.length ? r.sources : [{ origin: "", cameras: 0 }])
    .map((s, j) => ({ r, s, first: j === 0, top: i === 0 })));
  const age = (s) => (!s.origin ? t("live") : s.age_s === null || s.age_s === undefined ? t("never")
    : h("span", { class: s.age_s < 300 ? "" : "error", title: when(s.last_contact) }, duration(s.age_s)));
  mount(slot, h("h2", { class: "section-title" }, t("Data sources per level")), table([
    ["Region", ({ r, first, top }) => (first ? h("a", { href: ctx.hashFor("dashboard", { region: r.code }),
      lang: "zh", class: top ? "strong" : "" }, r.name) : "")],
    ["Level", ({ r, first }) => (first ? label(LEVELS, r.level) : "")],
    ["Source", ({ s }) => (s.origin ? h("span", { class: "badge info remote" }, s.origin)
      : h("span", { class: "badge ok" }, t("this instance")))],
    ["Cameras", ({ s }) => num(s.cameras), "num"],
    ["Data age", ({ s }) => age(s)],
  ], rows, { cls: "sources", rowAttrs: ({ r, s }) => ({ dataset: { region: r.code, origin: s.origin || "local" } }) }));
}

function reportLinks(region, eps) {
  if (!eps.report || !region || region.length < 8) return null;
  const day = localDay(new Date(Date.now() - 86400000)); // yesterday in the instance time zone
  const url = (fmt) => `/api/v1${eps.report}?region=${encodeURIComponent(region)}&date=${day}&format=${fmt}`;
  return h("span", { class: "muted" }, t("Daily report {{day}}: ", { day }),
    h("a", { href: url("html"), target: "_blank", rel: "noopener" }, "HTML"), " · ",
    h("a", { href: url("pdf"), target: "_blank", rel: "noopener" }, "PDF"));
}

function registrySection(slot, roll, charts, ctx) {
  const life = roll.by_lifecycle || {};
  const lifeKeys = Object.keys(LIFECYCLES).filter((k) => life[k]);
  const sortDesc = (obj) => Object.entries(obj || {}).sort((a, b) => b[1] - a[1]);
  const kinds = sortDesc(roll.by_kind);
  const owners = sortDesc(roll.by_owner);
  const c1 = chartCard("By lifecycle", "", (cv) => new DonutChart(cv, {
    labels: lifeKeys.map((k) => label(LIFECYCLES, k)), values: lifeKeys.map((k) => life[k]),
    colors: lifeKeys.map((k) => LIFECYCLE_COLORS[k]) }));
  c1.canvas.id = "chart-lifecycle";
  const c2 = chartCard("By kind", "", (cv) => new BarChart(cv, {
    labels: kinds.map(([k]) => label(KINDS, k)), values: kinds.map(([, v]) => v) }));
  c2.canvas.id = "chart-kind";
  const c3 = chartCard("By owner", "", (cv) => new BarChart(cv, {
    labels: owners.map(([k]) => label(OWNERS, k)), values: owners.map(([, v]) => v) }));
  charts.push(c1, c2, c3);
  const kids = roll.children || [];
  for (const k of kids) rememberRegion(k.code, k.name);
  mount(slot,
    h("h2", { class: "section-title" }, t("Registry")),
    h("div", { class: "grid cols-4" },
      kpiCard("Cameras", num(roll.total), t("{{n}} sub-regions", { n: num(kids.length) }), { id: "kpi-cameras" }),
      kpiCard("In service", num(life.in_service || 0), pct(roll.total ? (life.in_service || 0) / roll.total : null)),
      kpiCard("Installed, not in service", num(life.installed || 0)),
      kpiCard("Planned", num(life.planned || 0), t("{{n}} retired", { n: num(life.retired || 0) }))),
    h("div", { class: "grid cols-3" }, c1.card, c2.card, c3.card),
    kids.length ? [h("h2", { class: "section-title" }, t("Cameras per sub-region")), table([
      ["Region", (k) => h("a", { href: ctx.hashFor("dashboard", { region: k.code }), lang: "zh" }, k.name)],
      ["Level", (k) => label(LEVELS, k.level)], ["Cameras", (k) => num(k.total), "num"],
      ["In service", (k) => num(k.by_lifecycle?.in_service || 0), "num"],
      ["Planned", (k) => num(k.by_lifecycle?.planned || 0), "num"],
      ["", (k) => h("a", { href: ctx.hashFor("cameras", { region: k.code }) }, t("cameras →"))],
    ], kids, { cls: "subregions" })] : null);
}

/** Build the whole page off-screen; returns {nodes, charts, failed}. */
async function buildPage(region, period, ctx) {
  const eps = await healthEndpoints();
  const charts = [];
  const health = h("div", { id: "health-section" });
  const alarms = h("div", { id: "alarms-section" });
  const down = h("div", { id: "down-section" });
  const registry = h("div", { id: "registry-section" });
  const sources = h("div", { id: "sources-section" });
  const title = h("span", { class: "crumbs", lang: "zh" }, "");
  const head = h("div", { class: "view-head" }, h("h1", {}, t("Dashboard")), title,
    eps.kpi ? periodPicker(period, (p) => ctx.setParams({ period: p })) : null,
    h("span", { class: "muted" }, t("updated {{when}}", { when: when(new Date().toISOString()) })), reportLinks(region, eps));
  const results = await Promise.allSettled([
    api("/rollups", { query: { region } }).then((r) => {
      const roll = r.regions ? r.regions[0] : r;
      title.textContent = roll.region?.name || region || "";
      registrySection(registry, roll, charts, ctx);
    }),
    healthSection(health, region, period, eps, charts, ctx),
    alarmsSection(alarms, region, eps, ctx),
    downSection(down, region, eps, ctx),
    sourcesSection(sources, region, ctx),
  ]);
  const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason.message);
  return { nodes: [head, health, sources, down, alarms, registry], charts, failed };
}

/** Render the dashboard; it refreshes every minute in place (the scroll position stays). */
export async function render(el, route, ctx) {
  let params = route.params;
  let charts = [];
  let timer = 0;
  let gen = 0;

  async function load() {
    const my = ++gen;
    const region = params.get("region") || ctx.user.scopes?.[0] || null;
    const page = await buildPage(region, params.get("period") || "7d", ctx);
    if (my !== gen) return;
    const top = el.scrollTop;
    for (const c of charts) c.chart?.destroy();
    mount(el, page.nodes);
    charts = page.charts;
    for (const c of charts) c.chart = c.make();
    el.scrollTop = top;
    if (page.failed.length) toast(t("Dashboard: {{error}}", { error: page.failed.join("; ") }));
  }

  function tick() {
    if (!document.hidden) load();
    timer = setTimeout(tick, REFRESH_MS);
  }

  load();
  timer = setTimeout(tick, REFRESH_MS);
  return {
    update(r) {
      params = r.params;
      load();
    },
    destroy() {
      gen += 1;
      clearTimeout(timer);
      for (const c of charts) c.chart?.destroy();
    },
  };
}
