// Playback of an approved retrieval request: the server joins the recorded segments into one MP4 (stream copy)
// and audits the viewing. Below the video, a timeline of the request's range: the recorded spans (from the
// segment index), the camera's events, and a playhead; click or drag on it to jump (scrubbing). Gaps between
// spans are not in the MP4, so a wall-clock time maps to the joined clip through the spans.
import { api } from "./api.js";
import { formatDateTime, t } from "./i18n.js";
import { startPage, tabToken } from "./player.js";

const id = new URLSearchParams(location.search).get("request") || "";
const video = document.getElementById("video");
const status = document.getElementById("status");
const bar = document.getElementById("tl-bar");
window.vigilPlayback = { request: id, state: "loading", spans: [], events: [] };

function say(text, isError = false, state = text) {
  status.textContent = text;
  status.className = isError ? "error" : "";
  window.vigilPlayback.state = state;
}

/** The parts of the clip: each recorded span (back-to-back segments joined) clipped to [start, end), with its offset in the joined MP4. */
export function pieces(segments, start, end) {
  let at = 0;
  const out = [];
  for (const s of segments) {
    const a = Math.max(Date.parse(s.start), start);
    const b = Math.min(Date.parse(s.end), end);
    if (b <= a) continue;
    const last = out[out.length - 1];
    if (last && a - last.b < 100) last.b = b;  // back-to-back segments make one recorded span
    else out.push({ a, b, at });
    at += (b - a) / 1000;
  }
  return out;
}

/** Clip seconds for a wall-clock time (a time in a gap goes to the next span's start). */
export function clipTime(parts, ms) {
  for (const p of parts) {
    if (ms < p.a) return p.at;
    if (ms < p.b) return p.at + (ms - p.a) / 1000;
  }
  const last = parts[parts.length - 1];
  return last ? last.at + (last.b - last.a) / 1000 : 0;
}

/** The wall-clock time of a clip second. */
export function wallTime(parts, sec) {
  for (const p of parts) if (sec < p.at + (p.b - p.a) / 1000) return p.a + (sec - p.at) * 1000;
  const last = parts[parts.length - 1];
  return last ? last.b : 0;
}

function drawTimeline(start, end, parts, events) {
  const span = end - start;
  const x = (ms) => `${(100 * (ms - start)) / span}%`;
  const w = (a, b) => `${(100 * (b - a)) / span}%`;
  const el = (cls, title = "") => Object.assign(document.createElement("div"), { className: cls, title });
  bar.replaceChildren();
  for (const p of parts) {
    const d = el("tl-span", `${formatDateTime(p.a, { seconds: true })} – ${formatDateTime(p.b, { seconds: true })}`);
    Object.assign(d.style, { left: x(p.a), width: w(p.a, p.b) });
    bar.append(d);
  }
  for (const e of events) {
    const ms = Math.min(Math.max(Date.parse(e.start), start), end);
    const d = el("tl-event", `${formatDateTime(e.start, { seconds: true })} · ${e.type}${e.label ? ` · ${e.label}` : ""}`);
    d.style.left = x(ms);
    d.dataset.event = e.id;
    bar.append(d);
  }
  const head = el("tl-head");
  bar.append(head);
  document.getElementById("tl-start").textContent = formatDateTime(start, { seconds: true });
  document.getElementById("tl-end").textContent = formatDateTime(end, { seconds: true });
  const tick = () => {
    const ms = wallTime(parts, video.currentTime);
    head.style.left = x(ms);
    document.getElementById("tl-now").textContent = formatDateTime(ms, { seconds: true });
    window.vigilPlayback.wall = new Date(ms).toISOString();
  };
  video.addEventListener("timeupdate", tick);
  video.addEventListener("seeked", tick);
  tick();
  // Scrubbing: press and drag on the bar; the video follows the pointer.
  const seekTo = (ev) => {
    const r = bar.getBoundingClientRect();
    const ms = start + (Math.min(Math.max(ev.clientX - r.left, 0), r.width) / r.width) * span;
    video.currentTime = clipTime(parts, ms);
    tick();
  };
  bar.addEventListener("pointerdown", (ev) => {
    bar.setPointerCapture?.(ev.pointerId);
    seekTo(ev);
    const move = (e) => seekTo(e);
    bar.addEventListener("pointermove", move);
    bar.addEventListener("pointerup", () => bar.removeEventListener("pointermove", move), { once: true });
  });
  bar.addEventListener("keydown", (ev) => {
    const step = ev.key === "ArrowRight" ? 5 : ev.key === "ArrowLeft" ? -5 : 0;
    if (step) video.currentTime = Math.max(0, video.currentTime + step);
  });
  document.getElementById("timeline").hidden = false;
}

async function timeline(req) {
  const start = Date.parse(req.start);
  const end = Date.parse(req.end);
  const cam = encodeURIComponent(req.camera_id);
  const [rec, evs] = await Promise.all([
    api(`/video/cameras/${cam}/recordings`, { query: { start: req.start, end: req.end } }),
    api("/events", { query: { camera: req.camera_id, since: req.start, until: req.end, limit: 1000 } })
      .catch(() => ({ items: [] })),  // a role without events.read still gets the spans
  ]);
  const parts = pieces(rec.segments, start, end);
  window.vigilPlayback.spans = parts.map((p) => [new Date(p.a).toISOString(), new Date(p.b).toISOString()]);
  window.vigilPlayback.events = evs.items.map((e) => e.id);
  drawTimeline(start, end, parts, evs.items);
}

async function init() {
  await startPage(document.getElementById("lang-switch"));
  if (!/^\d+$/.test(id)) {
    say(t("no request given (?request=ID)"), true, "error");
    return;
  }
  document.getElementById("title").textContent = t("Playback · request {{id}}", { id });
  video.addEventListener("playing", () => say(t("playing"), false, "playing"));
  video.addEventListener("error", () => say(t("cannot play: not approved, not yours, or no footage"), true, "error"));
  const token = tabToken();
  const url = `/api/v1/video/retrievals/${id}/playback.mp4`;
  video.src = token ? `${url}?token=${encodeURIComponent(token)}` : url;
  video.play().catch(() => {});
  try {
    await timeline(await api(`/video/retrievals/${id}`));
  } catch (e) {
    window.vigilPlayback.timelineError = e.message;
  }
}

init();
