// The health part of the camera page: a 7-day availability strip, state changes, alarms and work orders.
import { api, serverPaths } from "../api.js";
import { h, mount } from "../dom.js";
import { STATE_COLORS, when } from "../labels.js";
import { cssVar } from "../theme.js";
import { table } from "../widgets.js";
import { t } from "../i18n.js";

const DAYS = 7;

/** Draw the camera's online/down history over the last DAYS days on `canvas`. */
export function drawStrip(canvas, changes, now = Date.now()) {
  const r = canvas.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(r.width * dpr);
  canvas.height = Math.round(r.height * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const t0 = now - DAYS * 86400000;
  const x = (t) => ((t - t0) / (now - t0)) * r.width;
  ctx.fillStyle = cssVar("--line") || "#25384f";
  ctx.fillRect(0, 0, r.width, r.height);
  const asc = [...changes].sort((a, b) => new Date(a.ts) - new Date(b.ts));
  let down = 0;
  asc.forEach((c, i) => {
    const s = Math.max(t0, new Date(c.ts).getTime());
    const e = i + 1 < asc.length ? new Date(asc[i + 1].ts).getTime() : now;
    if (e <= t0) return;
    ctx.fillStyle = STATE_COLORS[c.state] || STATE_COLORS.unknown;
    ctx.fillRect(x(s), 0, Math.max(1, x(e) - x(s)), r.height);
    if (c.state === "down") down += e - s;
  });
  ctx.fillStyle = cssVar("--bg") || "#0d1520";
  for (let d = 1; d < DAYS; d += 1) ctx.fillRect(x(t0 + d * 86400000), 0, 1, r.height);
  canvas.dataset.downMinutes = String(Math.round(down / 60000));
}

/** Fill `slot` with the camera's health history, if the server has the health API. */
export async function cameraHealth(slot, cameraId) {
  const paths = await serverPaths();
  if (!paths.has("/api/v1/health/cameras/{camera_id}")) return;
  const hist = await api(`/health/cameras/${encodeURIComponent(cameraId)}`);
  const strip = h("canvas", { class: "strip", id: "availability-strip",
    "aria-label": t("Online and down over the last {{n}} days", { n: DAYS }) });
  mount(slot, h("section", { class: "card" },
    h("h2", {}, t("Last {{n}} days", { n: DAYS })), strip,
    h("div", { class: "strip-axis muted" }, h("span", {}, t("{{n}} days ago", { n: DAYS })), h("span", {}, t("now"))),
    h("h3", {}, t("State changes")),
    table([["When", (c) => when(c.ts)],
      ["State", (c) => h("span", { class: `badge ${c.state === "online" ? "ok" : c.state === "down" ? "bad"
        : "muted"}` }, t(c.state))],
      ["Reason", (c) => (c.reason ? t(c.reason) : "—")], ["Answer", (c) => (c.ms ? t("{{n}} ms", { n: Math.round(c.ms) }) : "—"), "num"]],
    hist.changes.slice(0, 15), { empty: "No state change recorded." }),
    h("h3", {}, t("Alarms")),
    table([["Raised", (a) => when(a.raised_at)], ["Kind", (a) => t(a.kind.replaceAll("_", " "))],
      ["State", (a) => h("span", { class: `badge ${a.state === "active" ? "bad" : "muted"}` }, t(a.state))],
      ["Cleared", (a) => when(a.cleared_at)], ["Acknowledged", (a) => a.acknowledged_by || "—"]],
    hist.alarms.slice(0, 10), { empty: "No alarm." }),
    h("h3", {}, t("Work orders")),
    table([["#", (w) => w.id, "num"], ["State", (w) => t(w.state.replaceAll("_", " "))],
      ["Assigned to", (w) => w.assigned_to || "—"], ["Opened", (w) => when(w.opened_at)],
      ["Due", (w) => h("span", { class: w.breached ? "error" : "" }, when(w.due_at))],
      ["Closed", (w) => when(w.closed_at)]],
    hist.workorders.slice(0, 10), { empty: "No work order." })));
  drawStrip(strip, hist.changes);
}
