// The analytics switch of a camera (detection of people and vehicles, zone rules) on its detail page.
import { api, serverPaths } from "../api.js";
import { h, mount, toast } from "../dom.js";
import { num, when } from "../labels.js";

const MANAGERS = new Set(["admin", "duty_officer"]);

function zonesText(z) {
  if (!z) return "no zones: objects anywhere in the picture";
  const count = (k) => (Array.isArray(z[k]) ? z[k].length : 0);
  return `${num(count("zones"))} zones · ${num(count("lines"))} lines · ${num(count("masks"))} privacy masks`;
}

function card(slot, s, ctx) {
  const canManage = MANAGERS.has(ctx.user.role);
  const toggle = canManage ? h("button", { type: "button", id: "analytics-toggle",
    class: s.enabled ? "" : "primary" }, s.enabled ? "Switch off" : "Switch on") : null;
  toggle?.addEventListener("click", async () => {
    toggle.disabled = true;
    try {
      card(slot, await api(`/analytics/cameras/${encodeURIComponent(s.camera_id)}`, { method: "PUT",
        body: { enabled: !s.enabled } }), ctx);
    } catch (e) {
      toggle.disabled = false;
      toast(`Analytics: ${e.message}`);
    }
  });
  mount(slot, h("section", { class: "card", id: "camera-analytics" }, h("h2", {}, "Analytics"),
    h("dl", { class: "fields" },
      h("dt", {}, "State"), h("dd", {}, h("span", { class: `badge ${s.enabled ? "ok" : "muted"}`, id: "analytics-state" },
        s.enabled ? "on" : "off")),
      h("dt", {}, "Rules"), h("dd", {}, zonesText(s.zones)),
      h("dt", {}, "Changed"), h("dd", {}, s.updated_by ? `${when(s.updated_at)} by ${s.updated_by}` : "—")),
    h("p", { class: "muted" }, "Detects people and vehicles on motion, and fires the zone rules. No faces, no plates."),
    toggle ? h("div", { class: "actions" }, toggle) : null));
}

/** Fill `slot` with the camera's analytics setting, if the server has the analytics API. */
export async function cameraAnalytics(slot, cameraId, ctx) {
  if (!(await serverPaths()).has("/api/v1/analytics/cameras/{camera_id}")) return;
  card(slot, await api(`/analytics/cameras/${encodeURIComponent(cameraId)}`), ctx);
}
