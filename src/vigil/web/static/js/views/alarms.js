// Alarms: every alarm in the region (active, cleared or all), by fault kind, with the true count and paging.
import { api } from "../api.js";
import { h, message, mount, toast } from "../dom.js";
import { t } from "../i18n.js";
import { label, when } from "../labels.js";
import { regionNames } from "../regions.js";
import { table } from "../widgets.js";
import { countedTitle, filterSelect, listPager, paging } from "./listkit.js";
import { FAULTS } from "./workorders.js";

export const regionAware = true;
const ACK_ROLES = new Set(["admin", "duty_officer", "maintenance"]);
const ALARM_STATES = { active: "active", cleared: "cleared" };

function ackButton(a, ctx) {
  if (a.acknowledged_by) return a.acknowledged_by;
  if (!ACK_ROLES.has(ctx.user.role) || a.state !== "active") return "—";
  const b = h("button", { type: "button", class: "ack", dataset: { alarm: a.id } }, t("Acknowledge"));
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await api(`/health/alarms/${a.id}/ack`, { method: "POST" });
      b.replaceWith(h("span", { class: "badge ok" }, t("acknowledged")));
    } catch (e) {
      b.disabled = false;
      toast(t("Acknowledge failed: {{error}}", { error: e.message }));
    }
  });
  return b;
}

/** Render the alarms page. */
export async function render(el, route, ctx) {
  let p = route.params;
  const head = h("div", { class: "view-head" });
  const bar = h("div", {});
  const body = h("div", { id: "alarm-table" }, message(t("Loading…")));
  mount(el, head, bar, body);

  async function load() {
    const pg = paging(p);
    mount(bar, h("div", { class: "filters" },
      filterSelect(ctx, p, "state", null, [...Object.entries(ALARM_STATES), ["all", "All"]], "al-state"),
      filterSelect(ctx, p, "kind", "Any fault", Object.entries(FAULTS), "al-kind")));
    try {
      const res = await api("/health/alarms", { query: { region: p.get("region"), state: p.get("state") || "active",
        kind: p.get("kind"), ...pg } });
      const names = await regionNames(res.items.map((a) => a.region_code));
      mount(head, countedTitle("Alarms", res.total, "al-total"));
      mount(body, table([
        ["Raised", (a) => when(a.raised_at)],
        ["Camera", (a) => h("a", { href: ctx.hashFor("camera", {}, a.camera_id), class: "mono" }, a.camera_id)],
        ["Region", (a) => h("span", { lang: "zh" }, names.get(a.region_code) || a.region_code)],
        ["Kind", (a) => h("span", { class: `badge ${a.severity === "major" ? "bad" : "warn"}` }, label(FAULTS, a.kind))],
        ["Severity", (a) => label({ major: "major", minor: "minor" }, a.severity)],
        ["State", (a) => label(ALARM_STATES, a.state)], ["Cleared", (a) => when(a.cleared_at)],
        ["Acknowledged", (a) => ackButton(a, ctx)],
      ], res.items, { empty: "No alarm matches these filters.", cls: "alarms",
        rowAttrs: (a) => ({ dataset: { id: a.id } }) }),
      listPager(ctx, res.total, pg, "al-page"));
    } catch (e) {
      mount(body, message(t("Could not load alarms: {{error}}", { error: e.message }), "error"));
    }
  }

  load();
  return { update(r) { p = r.params; load(); } };
}
