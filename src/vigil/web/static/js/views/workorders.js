// The maintenance workspace: the work-order queue of a team, filtered by state, SLA, region and fault, with
// the true count, paging, and the buttons that move an order: assign, start, resolve, verify by re-probe.
import { api } from "../api.js";
import { h, message, mount, toast } from "../dom.js";
import { t } from "../i18n.js";
import { label, when } from "../labels.js";
import { regionNames } from "../regions.js";
import { table } from "../widgets.js";
import { countedTitle, filterSelect, listPager, paging } from "./listkit.js";

export const regionAware = true;
const BASE = "/health/workorders";
export const WO_STATES = { open: "open", assigned: "assigned", in_progress: "in progress", resolved: "resolved",
  closed: "closed" };
export const FAULTS = { offline: "Offline", signal_loss: "Signal loss", covered: "Covered", moved: "Moved",
  frozen: "Frozen picture", blur: "Blurred", dark: "Too dark", bright: "Too bright", noise: "Noisy",
  color_cast: "Colour cast" };
const EDITORS = new Set(["admin", "maintenance"]);
const TONE = { open: "bad", assigned: "warn", in_progress: "warn", resolved: "info", closed: "ok" };

async function act(w, step, body, reload) {
  try {
    const res = await api(`${BASE}/${w.id}/${step}`, { method: "POST", body });
    if (step === "verify") {
      toast(res.ok ? t("Work order {{id}} verified: the camera answers again.", { id: w.id })
        : t("Work order {{id}} reopened: {{detail}}", { id: w.id, detail: res.detail }), 6000);
    }
    reload();
  } catch (e) {
    toast(t("Work order {{id}}: {{error}}", { id: w.id, error: e.message }));
  }
}

/** The buttons an order's state allows. */
function buttons(w, ctx, reload) {
  if (!EDITORS.has(ctx.user.role) || w.state === "closed") return "—";
  const b = (step, text, handler, cls = "") => h("button", { type: "button", class: cls,
    dataset: { step, order: w.id }, onclick: handler }, text);
  const out = [];
  if (w.state !== "resolved") {
    out.push(b("assign", w.assigned_to ? t("Reassign") : t("Assign"), () => {
      const who = window.prompt(t("Technician for work order {{id}}", { id: w.id }), w.assigned_to || ctx.user.name);
      if (who?.trim()) act(w, "assign", { technician: who.trim() }, reload);
    }));
  }
  if (w.state === "assigned") out.push(b("start", t("Start"), () => act(w, "start", undefined, reload), "primary"));
  if (w.state === "in_progress") {
    out.push(b("resolve", t("Resolve"), () => {
      const note = window.prompt(t("What was fixed?"), "");
      if (note !== null) act(w, "resolve", { note }, reload);
    }, "primary"));
  }
  if (w.state === "resolved") out.push(b("verify", t("Verify by re-probe"), () => act(w, "verify", undefined, reload), "primary"));
  return h("div", { class: "actions tight" }, out);
}

function history(w, ctx) {
  const cam = w.camera || {};
  return h("div", { class: "card wo-detail", id: "wo-detail" },
    h("h2", {}, t("Work order {{id}}", { id: w.id }), " · ", h("span", { lang: "zh" }, cam.name || w.camera_id)),
    h("p", {}, h("a", { href: ctx.hashFor("camera", {}, w.camera_id) }, t("Camera page (map, history, live view)")),
      " · ", h("a", { href: ctx.hashFor("map", { region: w.region_code }) }, t("Region map"))),
    table([["When", (e) => when(e.ts)], ["Who", (e) => e.actor],
      ["Change", (e) => `${label(WO_STATES, e.from)} → ${label(WO_STATES, e.to)}`],
      ["Note", (e) => e.note || e.technician || e.detail || "—", "wrap"]],
    w.history || [], { empty: "No change yet.", cls: "wo-history" }));
}

async function teamOptions() {
  const res = await api("/health/teams").catch(() => ({ items: [] }));
  return res.items.map((tm) => [String(tm.id), `${tm.name}${tm.contractor ? ` · ${tm.contractor}` : ""}`]);
}

/** Render the work-order queue. */
export async function render(el, route, ctx) {
  let p = route.params;
  const teams = await teamOptions();
  const head = h("div", { class: "view-head" });
  const detail = h("div", { id: "wo-detail-slot" });
  const body = h("div", { id: "wo-table" }, message(t("Loading…")));
  const filters = () => h("div", { class: "filters" },
    filterSelect(ctx, p, "team", "Every team", teams, "wo-team"),
    filterSelect(ctx, p, "state", null, [["open", "Not closed"], ...Object.entries(WO_STATES), ["all", "All"]],
      "wo-state"),
    filterSelect(ctx, p, "sla", "Any SLA", [["breached", "SLA breached"], ["ok", "Within SLA"]], "wo-sla"),
    filterSelect(ctx, p, "kind", "Any fault", Object.entries(FAULTS), "wo-kind"));
  const bar = h("div", {});
  mount(el, head, bar, detail, body);
  let shown = null;

  async function load() {
    const pg = paging(p);
    mount(bar, filters());
    body.setAttribute("aria-busy", "true");
    try {
      const sla = p.get("sla");
      const res = await api(BASE, { query: { region: p.get("region"), team: p.get("team"), state: p.get("state") || "open",
        breached: sla ? sla === "breached" : null, kind: p.get("kind"), ...pg } });
      const names = await regionNames(res.items.map((w) => w.region_code));
      mount(head, countedTitle("Work orders", res.total, "wo-total"));
      mount(body, table([
        ["#", (w) => w.id, "num"],
        ["Camera", (w) => h("a", { href: ctx.hashFor("camera", {}, w.camera_id), lang: "zh" },
          w.camera?.name || w.camera_id)],
        ["Site", (w) => h("span", { lang: "zh" }, w.camera?.site || "—")],
        ["Region", (w) => h("span", { lang: "zh" }, names.get(w.region_code) || w.region_code)],
        ["State", (w) => h("span", { class: `badge ${TONE[w.state] || "muted"}` }, label(WO_STATES, w.state))],
        ["Assigned to", (w) => w.assigned_to || "—"], ["Opened", (w) => when(w.opened_at)],
        ["Due", (w) => h("span", { class: w.breached ? "error" : "" }, when(w.due_at),
          w.breached ? ` · ${t("SLA breached")}` : "")],
        ["", (w) => buttons(w, ctx, load)],
      ], res.items, { empty: "No work order matches these filters.", cls: "workorders",
        rowAttrs: (w) => ({ class: "clickable", dataset: { id: w.id }, onclick: (ev) => {
          if (ev.target.closest("a, button")) return;
          shown = w.id;
          mount(detail, history(w, ctx));
        } }) }),
      listPager(ctx, res.total, pg, "wo-page"));
      const again = res.items.find((w) => w.id === shown);
      mount(detail, again ? history(again, ctx) : null);
    } catch (e) {
      mount(body, message(t("Could not load work orders: {{error}}", { error: e.message }), "error"));
    } finally {
      body.removeAttribute("aria-busy");
    }
  }

  load();
  return { update(r) { p = r.params; load(); } };
}
