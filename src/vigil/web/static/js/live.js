// Live view of one camera: HLS from /api/v1/video/live/<camera>/index.m3u8 (hls.js, or the browser's own
// player), privacy masks drawn over the picture. It says "camera down", "no video" or "starting" rather than
// waiting forever (js/liveplayer.js decides from the camera's health state and the playlist's answers).
import { api } from "./api.js";
import { formatDateTime, t } from "./i18n.js";
import { playLive } from "./liveplayer.js";
import { startPage, tabToken } from "./player.js";

const params = new URLSearchParams(location.search);
const camera = params.get("camera") || "";
const remote = params.get("remote") === "1";  // a camera of an instance below, proxied through it
const video = document.getElementById("video");
const status = document.getElementById("status");
const notice = document.getElementById("notice");
window.vigilLive = { camera, state: "starting", errors: [] };

// state → [status text, notice over the picture (null: none), is an error], in the current language
const texts = () => ({
  starting: [t("starting…"), null, false],
  live: [t("live"), null, false],
  down: [t("camera down"), t("Camera down: its probes get no answer, so no live view is offered."), true],
  no_video: [t("no video"), t("No video: the camera's stream cannot be opened. Vigil keeps trying."), true],
  error: [t("cannot play"), t("This camera cannot be played here."), true],
});

function show(state, detail = "") {
  const all = texts();
  const [text, long, isError] = all[state] || all.error;
  status.textContent = text;
  status.className = isError ? "error" : "";
  status.dataset.state = state;
  notice.hidden = !long;
  notice.textContent = long || "";
  if (state === "down" && detail) notice.textContent += ` ${t("Down since {{when}}.", { when: formatDateTime(detail) })}`;
  window.vigilLive.state = state;
  if (isError) window.vigilLive.errors.push(state);
}

async function drawMasks() {
  const svg = document.getElementById("masks");
  for (const m of (await api(`/video/cameras/${encodeURIComponent(camera)}/masks`)).masks) {
    if (!m.enabled) continue;
    const poly = document.createElementNS("http://www.w3.org/2000/svg", "polygon");
    poly.setAttribute("points", m.polygon.map(([x, y]) => `${x},${y}`).join(" "));
    poly.setAttribute("fill", "#000");
    svg.appendChild(poly);
  }
}

async function init() {
  await startPage(document.getElementById("lang-switch"));
  if (!camera) {
    status.textContent = t("no camera given (?camera=ID)");
    status.className = "error";
    window.vigilLive.state = "error";
    return;
  }
  document.getElementById("title").textContent = t("Live · {{camera}}", { camera });
  const player = playLive(video, camera, { token: tabToken(), remote, onState: show });
  Object.defineProperties(window.vigilLive, {  // not enumerable: JSON.stringify(window.vigilLive) stays small
    player: { get: () => player.kind },  // "hls.js" or "native"
    hls: { get: () => player.hls },  // hls.latency: seconds behind the live edge
  });
  if (!remote) drawMasks().catch(() => {});
}

init();
