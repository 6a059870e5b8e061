// Live view of one camera: HLS from /api/v1/video/live/<camera>/index.m3u8, played natively where the
// browser can, else through hls.js (Media Source Extensions). Privacy masks are drawn over the picture.
"use strict";

(function () {
  const params = new URLSearchParams(location.search);
  const camera = params.get("camera") || "";
  const hashToken = new URLSearchParams(location.hash.slice(1)).get("token");
  const token = hashToken || sessionStorage.getItem("vigil_token") || "";
  const video = document.getElementById("video");
  const status = document.getElementById("status");
  // ?remote=1: a camera of an instance below, proxied through it (federation)
  const area = params.get("remote") === "1" ? "federation/live" : "video/live";
  const base = `/api/v1/${area}/${encodeURIComponent(camera)}/index.m3u8`;
  window.vigilLive = { camera, state: "starting", errors: [] };

  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
    window.vigilLive.state = text;
    if (isError) window.vigilLive.errors.push(text);
  }

  function headers() {
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  async function drawMasks() {
    const r = await fetch(`/api/v1/video/cameras/${encodeURIComponent(camera)}/masks`,
      { headers: headers(), credentials: "same-origin" });
    if (!r.ok) return;
    const svg = document.getElementById("masks");
    for (const m of (await r.json()).masks) {
      if (!m.enabled) continue;
      const poly = document.createElementNS("http://www.w3.org/2000/svg", "polygon");
      poly.setAttribute("points", m.polygon.map(([x, y]) => `${x},${y}`).join(" "));
      poly.setAttribute("fill", "#000");
      svg.appendChild(poly);
    }
  }

  function play() {
    if (!camera) { say("no camera given (?camera=ID)", true); return; }
    document.getElementById("title").textContent = `Live · ${camera}`;
    video.addEventListener("playing", () => say("live"));
    video.addEventListener("error", () => say(`video error ${video.error && video.error.code}`, true));
    if (window.Hls && window.Hls.isSupported()) {
      const hls = new window.Hls({
        liveSyncDurationCount: 2, lowLatencyMode: false, manifestLoadingMaxRetry: 6,
        xhrSetup: (xhr) => { if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`); },
      });
      hls.on(window.Hls.Events.ERROR, (_e, d) => { if (d.fatal) say(`stream error: ${d.details}`, true); });
      hls.loadSource(base);
      hls.attachMedia(video);
      window.vigilLive.player = "hls.js";
      window.vigilLive.hls = hls;  // hls.latency: seconds behind the live edge
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = token ? `${base}?token=${encodeURIComponent(token)}` : base;
      window.vigilLive.player = "native";
    } else {
      say("this browser cannot play HLS", true);
      return;
    }
    video.play().catch(() => {});
    drawMasks().catch(() => {});
  }

  play();
})();
