// The camera table: filters (region, kind, lifecycle, owner, text), sorting and pagination, all in the URL.
import { api, apiOptional, hasApi } from "../api.js";
import { debounce, h, message, mount, select } from "../dom.js";
import { KINDS, LIFECYCLES, OWNERS, duration, label, options, statusInfo } from "../labels.js";
import { regionName, regionNames } from "../regions.js";
import { pager } from "../widgets.js";
import { t } from "../i18n.js";

export const regionAware = true;

// [field, header, sort key (null: not sortable)]
const COLUMNS = [
  ["id", "ID", "id"], ["name", "Name", "name"], ["region_code", "Region", "region"], ["kind", "Kind", "kind"],
  ["owner", "Owner", null], ["lifecycle", "Lifecycle", "lifecycle"], ["status", "Status", null],
  ["model", "Model", null], ["live", "", null],
];

/** The badge for a camera's live state. */
export function statusBadge(status) {
  const s = statusInfo(status);
  const cls = { online: "ok", down: "bad" }[s.state] || "muted";
  const text = s.state === "down" && s.reason ? `${t("down")} · ${t(s.reason)}` : t(s.state);
  return h("span", { class: `badge ${cls}`, title: s.faults.length ? t("faults: {{list}}", { list: s.faults.join(", ") }) : "" },
    text, s.faults.length ? ` ⚠ ${s.faults.length}` : null);
}

/** A lifecycle badge. */
export function lifecycleBadge(v) {
  const cls = { in_service: "ok", installed: "warn", planned: "info", retired: "muted" }[v] || "muted";
  return h("span", { class: `badge ${cls}` }, label(LIFECYCLES, v));
}

function filtersBar(p, ctx) {
  const q = h("input", {
    type: "search", id: "camera-search", placeholder: t("Search name or ID…"), value: p.get("q") || "",
    "aria-label": t("Search cameras"),
  });
  const onText = debounce(() => ctx.setParams({ q: q.value.trim(), offset: null }, { replace: true }), 300);
  q.addEventListener("input", onText);
  const sel = (name, any, table) => {
    const s = select({ id: `filter-${name}`, "aria-label": t(name) }, t(any), options(table), p.get(name));
    s.addEventListener("change", () => ctx.setParams({ [name]: s.value, offset: null }));
    return s;
  };
  const region = h("span", { id: "filter-region" });
  return { el: h("div", { class: "filters" }, q, sel("kind", "Any kind", KINDS),
    sel("lifecycle", "Any lifecycle", LIFECYCLES), sel("owner", "Any owner", OWNERS), region), q, region };
}

async function drawScopeChips(slot, p, ctx) {
  const code = p.get("region");
  const site = p.get("site");
  const chips = [];
  const chip = (text, clear) => h("span", { class: "chip", lang: "zh" }, text,
    h("button", { type: "button", title: t("Clear"), "aria-label": t("Clear"), onclick: () => ctx.setParams(clear) }, "×"));
  if (code) {
    const name = ctx.tree?.nameOf(code) || (await regionName(code)) || code;
    chips.push(chip(t("Region: {{name}}", { name }), { region: null, offset: null }));
  }
  if (site) {
    const s = await apiOptional(`/sites/${encodeURIComponent(site)}`).catch(() => null);
    chips.push(chip(t("Site: {{name}}", { name: s?.name || site }), { site: null, offset: null }));
  }
  mount(slot, chips.length ? chips : h("span", { class: "muted" }, t("All regions (pick one in the tree)")));
}

function headerRow(sort, ctx) {
  return h("tr", {}, COLUMNS.map(([, text, key]) => {
    if (!key) return h("th", {}, text ? t(text) : text);
    const dir = sort === key ? "▲" : sort === `-${key}` ? "▼" : "";
    const next = sort === key ? `-${key}` : key;
    return h("th", { class: "sortable", dataset: { sort: key }, title: t("Sort"),
      onclick: () => ctx.setParams({ sort: next, offset: null }) }, t(text), " ", h("span", { class: "sort" }, dir));
  }));
}

/** The mark of a camera that lives on an instance below (federation): where from, and how old the data is. */
export function remoteBadge(r) {
  if (!r) return null;
  const age = r.age_s === null || r.age_s === undefined ? t("never") : duration(r.age_s);
  return h("span", { class: `badge ${r.age_s !== null && r.age_s < 300 ? "info" : "warn"} remote`,
    title: t("From instance {{origin}} (link {{link}}), data {{age}} old", { origin: r.origin, link: r.link, age }) },
  t("remote · {{origin}}", { origin: r.origin }));
}

/** Remote cameras among `ids` (empty when federation is not served). */
export async function remoteOf(ids, signal) {
  if (!ids.length || !(await hasApi("/api/v1/federation/remote"))) return new Map();
  const rows = await api("/federation/remote", { query: { ids: ids.join(","), limit: ids.length }, signal })
    .catch(() => []);
  return new Map(rows.map((r) => [r.id, r]));
}

function cameraRow(c, names, ctx, remote) {
  const href = ctx.hashFor("camera", {}, c.id);
  const r = remote.get(c.id);
  return h("tr", { class: "clickable", dataset: r ? { id: c.id, remote: r.origin } : { id: c.id }, onclick: (ev) => {
    if (ev.target.closest("a")) return;
    location.hash = href;
  } },
  h("td", { class: "mono" }, c.id),
  h("td", { lang: "zh" }, h("a", { href, class: "camera-link" }, c.name), r ? " " : null, remoteBadge(r)),
  h("td", { lang: "zh", title: c.region_code }, names.get(c.region_code) || c.region_code),
  h("td", {}, label(KINDS, c.kind)),
  h("td", {}, label(OWNERS, c.owner)),
  h("td", {}, lifecycleBadge(c.lifecycle)),
  h("td", {}, statusBadge(c.status)),
  h("td", {}, typeof c.model === "object" && c.model ? c.model.name : c.model || "—"),
  h("td", {}, c.lifecycle === "in_service" && statusInfo(c.status).state !== "down" ? h("a", {
    href: `live.html?camera=${encodeURIComponent(c.id)}${r ? "&remote=1" : ""}`,
    title: t("Live view"), "aria-label": t("Live view of {{name}}", { name: c.name }) }, t("▶ Live")) : null));
}

/** Render the camera table into `el`. */
export async function render(el, route, ctx) {
  let p = route.params;
  const bar = filtersBar(p, ctx);
  const body = h("div", { id: "camera-table" }, message(t("Loading…")));
  const mapLink = h("a", { class: "button-link secondary", href: ctx.hashFor("map", { region: p.get("region") }) },
    t("Show on map"));
  mount(el, h("div", { class: "view-head" }, h("h1", {}, t("Cameras")), mapLink), bar.el, body);
  let ctrl = null;

  async function load() {
    ctrl?.abort();
    ctrl = new AbortController();
    const signal = ctrl.signal;
    const limit = Number(p.get("limit")) || 50;
    const offset = Math.max(0, Number(p.get("offset")) || 0);
    const sort = p.get("sort") || "";
    drawScopeChips(bar.region, p, ctx);
    mapLink.setAttribute("href", ctx.hashFor("map", { region: p.get("region") }));
    body.setAttribute("aria-busy", "true");
    try {
      const query = { region: p.get("region"), site: p.get("site"), kind: p.get("kind"), lifecycle: p.get("lifecycle"),
        owner: p.get("owner"), q: p.get("q"), limit, offset, sort };
      const page = await api("/cameras", { query, signal });
      const [names, remote] = await Promise.all([regionNames(page.items.map((c) => c.region_code)),
        remoteOf(page.items.map((c) => c.id), signal)]);
      if (signal.aborted) return;
      const rows = page.items.map((c) => cameraRow(c, names, ctx, remote));
      mount(body,
        h("div", { class: "table-wrap" }, h("table", { class: "cameras" }, h("thead", {}, headerRow(sort, ctx)),
          h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: COLUMNS.length, class: "empty" },
            t("No camera matches these filters.")))))),
        pager({ total: page.total ?? page.items.length, offset, limit, id: "page",
          go: (o) => ctx.setParams({ offset: o || null }), onLimit: (n) => ctx.setParams({ limit: n, offset: null }) }));
    } catch (e) {
      if (e.name !== "AbortError") mount(body, message(t("Could not load cameras: {{error}}", { error: e.message }), "error"));
    } finally {
      body.removeAttribute("aria-busy");
    }
  }

  load();
  return {
    update(r) {
      p = r.params;
      if (document.activeElement !== bar.q) bar.q.value = p.get("q") || "";
      for (const name of ["kind", "lifecycle", "owner"]) {
        const s = document.getElementById(`filter-${name}`);
        if (s) s.value = p.get(name) || "";
      }
      load();
    },
    destroy() {
      ctrl?.abort();
    },
  };
}
