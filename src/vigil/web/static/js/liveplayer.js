// One camera's live HLS in a <video>: used by the live page and by each tile of the video wall.
// Never waits forever: the camera's health state and the playlist's answers decide what it says:
// "down" (the probes say so; no stream is even asked for), "starting" (the packager has no segment yet),
// "no_video" (the stream cannot be opened), "live" (frames play), "error" (not allowed, not found).
import { cameraState } from "./player.js";

const RETRY_STARTING_MS = 1000;
const RETRY_NO_VIDEO_MS = [3000, 3000, 15000]; // soon after a first failure (a camera busy for a moment), then slower
const MAX_STARTING = 30; // tries while "starting" before it says "no video"

let hlsLoading = null;
/** Load the vendored hls.js once, on pages that play video only when they need it. */
export function loadHls() {
  if (window.Hls) return Promise.resolve();
  hlsLoading ||= new Promise((resolve, reject) => {
    const s = Object.assign(document.createElement("script"),
      { src: new URL("../vendor/hls.js/hls.min.js", import.meta.url).href });
    s.addEventListener("load", resolve);
    s.addEventListener("error", () => reject(new Error("hls.js did not load")));
    document.head.append(s);
  });
  return hlsLoading;
}

/** The playlist URL of a camera (a remote one is proxied through the instance below). */
export function playlistUrl(cameraId, { remote = false } = {}) {
  return `/api/v1/${remote ? "federation/live" : "video/live"}/${encodeURIComponent(cameraId)}/index.m3u8`;
}

/** Play `cameraId` in `video`; `onState(state, detail)` hears every change. Returns {stop()}. */
export function playLive(video, cameraId, { token = "", remote = false, onState = () => {} } = {}) {
  const url = playlistUrl(cameraId, { remote });
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  let stopped = false;
  let timer = 0;
  let hls = null;
  let tries = 0;
  let failures = 0;
  const player = { state: "", hls: null, kind: "", stop };

  function say(state, detail = "") {
    if (stopped || player.state === state) return;
    player.state = state;
    onState(state, detail);
  }

  function later(fn, ms) {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(fn, ms);
  }

  function attach() {
    if (window.Hls && window.Hls.isSupported()) {
      hls = new window.Hls({ liveSyncDurationCount: 2, lowLatencyMode: false, manifestLoadingMaxRetry: 2,
        xhrSetup: (xhr) => { if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`); } });
      hls.on(window.Hls.Events.ERROR, (_e, d) => {
        if (!d.fatal) return;
        hls.destroy();
        hls = player.hls = null;
        say("starting");
        later(probe, RETRY_STARTING_MS);  // the stream dropped: ask the playlist again what is going on
      });
      hls.loadSource(url);
      hls.attachMedia(video);
      player.hls = hls;
      player.kind = "hls.js";
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = token ? `${url}?token=${encodeURIComponent(token)}` : url;
      player.kind = "native";
    } else {
      say("error", "this browser cannot play HLS");
      return;
    }
    video.play().catch(() => {});
  }

  function retryNoVideo() {
    failures += 1;
    return RETRY_NO_VIDEO_MS[Math.min(failures, RETRY_NO_VIDEO_MS.length) - 1];
  }

  async function probe() {
    if (stopped) return;
    let res;
    try {
      res = await fetch(url, { headers, credentials: "same-origin", cache: "no-store" });
    } catch {
      say("no_video");
      later(probe, retryNoVideo());
      return;
    }
    if (res.ok) {
      failures = 0;
      attach();
      return;
    }
    const problem = await res.json().catch(() => ({}));
    if (res.status === 503 && problem.live_state === "starting" && tries < MAX_STARTING) {
      tries += 1;
      say("starting");
      later(probe, RETRY_STARTING_MS);
    } else if (res.status === 503) {
      tries = 0;
      say("no_video", problem.detail || "");
      later(probe, retryNoVideo());
    } else {
      say("error", problem.detail || `HTTP ${res.status}`);
    }
  }

  function stop() {
    stopped = true;
    clearTimeout(timer);
    hls?.destroy();
    video.removeAttribute("src");
  }

  video.addEventListener("playing", () => say("live"));
  say("starting");
  (remote ? Promise.resolve({ state: "unknown" }) : cameraState(cameraId)).then((s) => {
    if (s.state === "down") say("down", s.since || "");
    else if (s.state === "missing") say("error", "camera not found");
    else probe();
  });
  return player;
}
