// Recordings: ask for a stretch of recorded video with a reason, approve others' requests, play and export.
// Class-1 and sensitive sites need a second person's approval; the server enforces it and audits every view.
import { api } from "../api.js";
import { h, message, mount, toast } from "../dom.js";
import { duration, num, when } from "../labels.js";
import { table } from "../widgets.js";
import { t } from "../i18n.js";

const V = "/video";
const STATE_TONE = { approved: "ok", pending: "warn", denied: "bad" };

/** "2026-11-27T22:10:05" in local time, for <input type=datetime-local step=1>. */
function localInput(d) {
  const p = (v) => String(v).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${
    p(d.getSeconds())}`;
}

function field(text, input) {
  return h("label", { class: "field" }, h("span", {}, t(text)), input);
}

function requestForm(p, onDone, onWindow) {
  const end = p.get("end") ? new Date(p.get("end")) : new Date();
  const start = p.get("start") ? new Date(p.get("start")) : new Date(end.getTime() - 15 * 60000);
  const cam = h("input", { id: "rt-camera", required: true, value: p.get("camera") || "", pattern: "\\d{20}",
    placeholder: t("20-digit camera ID"), class: "mono" });
  const from = h("input", { id: "rt-start", type: "datetime-local", step: 1, required: true,
    value: localInput(start) });
  const to = h("input", { id: "rt-end", type: "datetime-local", step: 1, required: true,
    value: localInput(end) });
  const kind = h("select", { id: "rt-kind" }, h("option", { value: "view" }, t("View")),
    h("option", { value: "export" }, t("View and export")));
  const reason = h("textarea", { id: "rt-reason", required: true, minlength: 5, rows: 2,
    placeholder: t("Why is this video needed? (case number, incident…)") });
  const submit = h("button", { type: "submit", class: "primary", id: "rt-submit" }, t("Request"));
  const form = h("form", { class: "card form-grid", id: "retrieval-form" },
    h("h2", {}, t("Request recorded video")), field("Camera", cam), field("From", from), field("To", to),
    field("Use", kind), field("Reason", reason), h("div", { class: "actions" }, submit));
  const win = () => onWindow(cam.value.trim(), new Date(from.value), new Date(to.value));
  for (const i of [cam, from, to]) i.addEventListener("change", win);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      const req = await api(`${V}/retrievals`, { method: "POST", body: { camera_id: cam.value.trim(),
        start: new Date(from.value).toISOString(), end: new Date(to.value).toISOString(), kind: kind.value,
        reason: reason.value.trim() } });
      reason.value = "";
      toast(req.state === "pending" ? t("Request #{{id}} waits for a second person's approval.", { id: req.id })
        : t("Request #{{id}} approved.", { id: req.id }), 4000);
      onDone(req);
    } catch (e) {
      toast(t("Request refused: {{error}}", { error: e.message }));
    } finally {
      submit.disabled = false;
    }
  });
  return { form, win };
}

async function drawSpans(slot, camera, start, end) {
  if (!/^\d{20}$/.test(camera) || Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) {
    mount(slot);
    return;
  }
  try {
    const res = await api(`${V}/cameras/${camera}/recordings`, { query: { start: start.toISOString(),
      end: end.toISOString() } });
    const secs = res.segments.reduce((a, g) => a + (new Date(g.end) - new Date(g.start)) / 1000, 0);
    const span = (end - start) / 1000;
    mount(slot, h("p", { class: "muted", id: "rt-spans" },
      t("{{n}} recorded segments · {{secs}} of {{span}} in this window", { n: num(res.segments.length), secs: duration(secs),
        span: duration(span) })));
  } catch (e) {
    mount(slot, message(t("Recordings: {{error}}", { error: e.message }), "error"));
  }
}

async function decide(r, approve, reload) {
  try {
    await api(`${V}/retrievals/${r.id}/${approve ? "approve" : "deny"}`, { method: "POST", body: { note: "" } });
    reload();
  } catch (e) {
    toast(e.message);
  }
}

async function doExport(r, slot) {
  try {
    const ex = await api(`${V}/retrievals/${r.id}/export`, { method: "POST" });
    const file = (name) => `/api/v1${V}/exports/${ex.id}?file=${encodeURIComponent(name)}`;
    mount(slot, h("section", { class: "card", id: "export-result" }, h("h2", {}, t("Export #{{id}}", { id: ex.id })),
      h("p", {}, ex.masked ? t("Privacy masks are blacked out in this export.") : t("No privacy mask on this camera.")),
      h("div", { class: "actions" }, (ex.manifest?.files || []).map((f) => h("a", { class: "button-link",
        href: file(f.name) }, `⬇ ${f.name}`)),
      h("a", { class: "button-link secondary", href: file("manifest.json") }, "manifest.json"),
      h("a", { class: "button-link secondary", href: file("manifest.sig") }, "manifest.sig"))));
  } catch (e) {
    toast(t("Export failed: {{error}}", { error: e.message }));
  }
}

function play(r, slot) {
  const video = h("video", { controls: true, autoplay: true, muted: true, playsinline: true, id: "rt-video",
    src: `/api/v1${V}/retrievals/${r.id}/playback.mp4` });
  mount(slot, h("section", { class: "card" }, h("h2", {}, t("Request #{{id}} · {{start}} → {{end}}", { id: r.id, start: when(r.start), end: when(r.end) })),
    video, h("a", { href: `playback.html?request=${r.id}`, target: "_blank", rel: "noopener" },
      t("Open in its own window"))));
  video.scrollIntoView({ block: "nearest" });
}

function actions(r, ctx, slots, reload) {
  const me = ctx.user.name;
  const canApprove = ["admin", "duty_officer"].includes(ctx.user.role);
  const out = [];
  if (r.state === "pending" && canApprove && r.requester !== me) {
    out.push(h("button", { type: "button", class: "primary", onclick: () => decide(r, true, reload) }, t("Approve")),
      h("button", { type: "button", onclick: () => decide(r, false, reload) }, t("Deny")));
  }
  if (r.state === "approved" && r.requester === me) {
    out.push(h("button", { type: "button", class: "play", onclick: () => play(r, slots.player) }, t("▶ Play")));
    if (r.kind === "export") out.push(h("button", { type: "button", onclick: () => doExport(r, slots.player) },
      t("Export")));
  }
  return h("div", { class: "actions tight" }, out);
}

/** Render the recordings page. */
export async function render(el, route, ctx) {
  const spans = h("div", {});
  const player = h("div", { id: "rt-player" });
  const list = h("div", { id: "retrievals" }, message(t("Loading…")));
  const reload = async () => {
    try {
      const res = await api(`${V}/retrievals`);
      const items = [...res.items].sort((a, b) => b.id - a.id);
      mount(list, table([
        ["#", (r) => r.id, "num"], ["Camera", (r) => h("a", { href: ctx.hashFor("camera", {}, r.camera_id),
          class: "mono" }, r.camera_id)],
        ["Window", (r) => [when(r.start), h("br"), `→ ${when(r.end)}`]], ["Use", (r) => t(r.kind)],
        ["Reason", (r) => h("span", { title: r.reason }, r.reason.length > 60 ? `${r.reason.slice(0, 60)}…` : r.reason),
          "wrap"],
        ["Requester", (r) => r.requester],
        ["State", (r) => h("span", { class: `badge ${STATE_TONE[r.state] || "muted"}` }, t(r.state),
          r.needs_approval ? ` · ${t("2-person")}` : "")],
        ["Approver", (r) => r.approver || "—"], ["", (r) => actions(r, ctx, { player }, reload)],
      ], items, { empty: "No request yet.", cls: "retrievals", rowAttrs: (r) => ({ dataset: { id: r.id } }) }));
    } catch (e) {
      mount(list, message(t("Could not load requests: {{error}}", { error: e.message }), "error"));
    }
  };
  const { form, win } = requestForm(route.params, (req) => {
    reload();
    if (req.state === "approved") play(req, player);
  }, (cam, s, e) => drawSpans(spans, cam, s, e));
  mount(el, h("div", { class: "view-head" }, h("h1", {}, t("Recordings"))),
    h("div", { class: "grid cols-2" }, h("div", {}, form, spans), player),
    h("h2", { class: "section-title" }, t("Requests")), list);
  win();
  reload();
  return null;
}
