// The events browser: what the analytics saw (objects, intrusions, loitering, line crossings), filtered.
import { api, serverPaths } from "../api.js";
import { debounce, h, message, mount, select } from "../dom.js";
import { duration, label, num, options, when } from "../labels.js";
import { regionNames } from "../regions.js";
import { pager, table } from "../widgets.js";
import { t } from "../i18n.js";

export const regionAware = true;
const TYPES = { object: "Object", intrusion: "Intrusion", loitering: "Loitering", line_crossing: "Line crossing" };
const LABELS = { person: "Person", bicycle: "Bicycle", car: "Car", motorcycle: "Motorcycle", bus: "Bus",
  truck: "Truck" };
const RANGES = [["1h", "Last hour", 3600], ["24h", "Last 24 h", 86400], ["7d", "Last 7 days", 7 * 86400],
  ["30d", "Last 30 days", 30 * 86400]];
const REFRESH_MS = 15000;

function sinceOf(range) {
  const r = RANGES.find(([k]) => k === range);
  return r ? new Date(Date.now() - r[2] * 1000).toISOString() : null;
}

function filterBar(p, ctx) {
  const sel = (name, any, opts) => {
    const s = select({ id: `ev-${name}`, "aria-label": t(name) }, t(any), opts, p.get(name));
    s.addEventListener("change", () => ctx.setParams({ [name]: s.value, offset: null }));
    return s;
  };
  const text = (name, placeholder) => {
    const i = h("input", { type: "search", id: `ev-${name}`, placeholder, value: p.get(name) || "",
      "aria-label": placeholder });
    i.addEventListener("input", debounce(() => ctx.setParams({ [name]: i.value.trim(), offset: null },
      { replace: true }), 400));
    return i;
  };
  const live = h("input", { type: "checkbox", id: "ev-live", checked: p.get("live") !== "0" });
  live.addEventListener("change", () => ctx.setParams({ live: live.checked ? null : "0" }, { replace: true }));
  return h("div", { class: "filters" },
    sel("type", "Any type", options(TYPES)), sel("label", "Any object", options(LABELS)),
    text("camera", t("Camera ID")), text("zone", t("Zone")),
    sel("range", "Any time", RANGES.map(([k, text]) => [k, t(text)])),
    h("label", { class: "inline", title: t("Reload the first page every 15 s") }, live, t("Live updates")));
}

function snapshot(ev, big = false) {
  if (!ev.snapshot_url) return h("span", { class: "muted" }, "—");
  const img = h("img", { src: ev.snapshot_url, alt: t("{{label}} snapshot", { label: label(LABELS, ev.label) }), loading: "lazy",
    class: big ? "" : "event-thumb" });
  if (!big || !Array.isArray(ev.box) || ev.box.length !== 4) return img;
  const [x1, y1, x2, y2] = ev.box;
  return h("div", { class: "snapshot" }, img, h("div", { class: "box", style: {
    left: `${x1 * 100}%`, top: `${y1 * 100}%`, width: `${(x2 - x1) * 100}%`, height: `${(y2 - y1) * 100}%` } }));
}

/** The recordings page, prefilled with the event's camera and time (5 s before and after). */
function clipHash(ev, ctx) {
  const start = new Date(new Date(ev.start).getTime() - 5000);
  const end = new Date((ev.end ? new Date(ev.end).getTime() : start.getTime() + 60000) + 5000);
  return ctx.hashFor("recordings", { camera: ev.camera_id, start: start.toISOString(), end: end.toISOString() });
}

function eventDetail(ev, names, ctx, canPlay) {
  const secs = ev.end ? (new Date(ev.end) - new Date(ev.start)) / 1000 : null;
  return h("div", { class: "card event-detail", id: "event-detail" }, snapshot(ev, true),
    h("div", {}, h("h2", {}, `${label(TYPES, ev.type)} · ${label(LABELS, ev.label)}`),
      h("dl", { class: "fields" },
        h("dt", {}, t("Start")), h("dd", {}, when(ev.start)),
        h("dt", {}, t("End")), h("dd", {}, ev.end ? `${when(ev.end)} (${duration(secs)})` : t("ongoing")),
        h("dt", {}, t("Camera")), h("dd", {}, h("a", { href: ctx.hashFor("camera", {}, ev.camera_id), class: "mono" },
          ev.camera_id)),
        h("dt", {}, t("Region")), h("dd", { lang: "zh" }, names.get(ev.region_code) || ev.region_code),
        h("dt", {}, t("Zone")), h("dd", {}, ev.zone || "—"),
        ev.direction ? [h("dt", {}, t("Direction")), h("dd", {}, t(ev.direction))] : null,
        h("dt", {}, t("Score")), h("dd", {}, ev.score?.toFixed ? ev.score.toFixed(2) : "—")),
      h("div", { class: "actions" },
        canPlay ? h("a", { class: "button-link", id: "event-clip", href: clipHash(ev, ctx) }, t("▶ Recorded clip"))
          : null,
        h("a", { class: "button-link secondary", href: `live.html?camera=${encodeURIComponent(ev.camera_id)}` },
          t("Live view")))));
}

/** Render the events browser. */
export async function render(el, route, ctx) {
  let p = route.params;
  const body = h("div", { id: "events-table" }, message(t("Loading…")));
  const detail = h("div", { id: "event-detail-slot" });
  mount(el, h("div", { class: "view-head" }, h("h1", {}, t("Events"))), filterBar(p, ctx), detail, body);
  let ctrl = null;
  let timer = 0;
  let selected = null;
  const canPlay = (await serverPaths()).has("/api/v1/video/retrievals");

  async function load() {
    ctrl?.abort();
    ctrl = new AbortController();
    const signal = ctrl.signal;
    clearTimeout(timer);
    const limit = Number(p.get("limit")) || 50;
    const offset = Math.max(0, Number(p.get("offset")) || 0);
    try {
      const res = await api("/events", { signal, query: { region: p.get("region"), camera: p.get("camera"),
        type: p.get("type"), label: p.get("label"), zone: p.get("zone"), since: sinceOf(p.get("range")),
        limit, offset } });
      const names = await regionNames(res.items.map((e) => e.region_code));
      if (signal.aborted) return;
      const show = (ev) => {
        selected = ev.id;
        mount(detail, eventDetail(ev, names, ctx, canPlay));
        detail.scrollIntoView({ block: "nearest" });
      };
      mount(body, table([
        ["Snapshot", (e) => snapshot(e)], ["Start", (e) => when(e.start)],
        ["Type", (e) => h("span", { class: `badge ${e.type === "object" ? "info" : "warn"}` }, label(TYPES, e.type))],
        ["Object", (e) => label(LABELS, e.label)], ["Zone", (e) => e.zone || "—"],
        ["Camera", (e) => h("a", { href: ctx.hashFor("camera", {}, e.camera_id), class: "mono" }, e.camera_id)],
        ["Region", (e) => h("span", { lang: "zh" }, names.get(e.region_code) || e.region_code)],
        ["Score", (e) => (e.score?.toFixed ? e.score.toFixed(2) : "—"), "num"],
      ], res.items, { empty: "No event matches these filters.", cls: "events",
        rowAttrs: (e) => ({ class: `clickable${e.id === selected ? " selected" : ""}`, dataset: { id: e.id },
          onclick: (ev) => { if (!ev.target.closest("a")) show(e); } }) }),
      pager({ total: res.total ?? res.items.length, offset, limit, id: "ev-page",
        go: (o) => ctx.setParams({ offset: o || null }), onLimit: (n) => ctx.setParams({ limit: n, offset: null }) }),
      h("p", { class: "muted" }, t("{{n}} events · updated {{when}}", { n: num(res.total), when: when(new Date().toISOString()) })));
      if (p.get("live") !== "0" && offset === 0) timer = setTimeout(() => !document.hidden && load(), REFRESH_MS);
    } catch (e) {
      if (e.name !== "AbortError") mount(body, message(t("Could not load events: {{error}}", { error: e.message }), "error"));
    }
  }

  load();
  return {
    update(r) {
      p = r.params;
      load();
    },
    destroy() {
      ctrl?.abort();
      clearTimeout(timer);
    },
  };
}
