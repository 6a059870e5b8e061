// The analytics switch of a camera (detection of people and vehicles, zone rules) on its detail page.
import { api, serverPaths } from "../api.js";
import { h, mount, toast } from "../dom.js";
import { num, when } from "../labels.js";
import { t } from "../i18n.js";

const MANAGERS = new Set(["admin", "duty_officer"]);

function zonesText(z) {
  if (!z) return t("no zones: objects anywhere in the picture");
  const count = (k) => (Array.isArray(z[k]) ? z[k].length : 0);
  return t("{{zones}} zones · {{lines}} lines · {{masks}} privacy masks", { zones: num(count("zones")),
    lines: num(count("lines")), masks: num(count("masks")) });
}

function card(slot, s, ctx) {
  const canManage = MANAGERS.has(ctx.user.role);
  const toggle = canManage ? h("button", { type: "button", id: "analytics-toggle",
    class: s.enabled ? "" : "primary" }, s.enabled ? t("Switch off") : t("Switch on")) : null;
  toggle?.addEventListener("click", async () => {
    toggle.disabled = true;
    try {
      card(slot, await api(`/analytics/cameras/${encodeURIComponent(s.camera_id)}`, { method: "PUT",
        body: { enabled: !s.enabled } }), ctx);
    } catch (e) {
      toggle.disabled = false;
      toast(t("Analytics: {{error}}", { error: e.message }));
    }
  });
  mount(slot, h("section", { class: "card", id: "camera-analytics" }, h("h2", {}, t("Analytics")),
    h("dl", { class: "fields" },
      h("dt", {}, t("State")), h("dd", {}, h("span", { class: `badge ${s.enabled ? "ok" : "muted"}`, id: "analytics-state" },
        s.enabled ? t("on") : t("off"))),
      h("dt", {}, t("Rules")), h("dd", {}, zonesText(s.zones)),
      h("dt", {}, t("Changed")), h("dd", {}, s.updated_by ? t("{{when}} by {{who}}", { when: when(s.updated_at), who: s.updated_by }) : "—")),
    h("p", { class: "muted" }, t("Detects people and vehicles on motion, and fires the zone rules. No faces, no plates.")),
    toggle ? h("div", { class: "actions" }, toggle) : null));
}

/** Fill `slot` with the camera's analytics setting, if the server has the analytics API. */
export async function cameraAnalytics(slot, cameraId, ctx) {
  if (!(await serverPaths()).has("/api/v1/analytics/cameras/{camera_id}")) return;
  card(slot, await api(`/analytics/cameras/${encodeURIComponent(cameraId)}`), ctx);
}
