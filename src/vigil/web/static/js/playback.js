// Playback of an approved retrieval request: the server joins the recorded segments into one MP4
// (stream copy) and audits the viewing. The reason and approval were given when the request was filed.
"use strict";

(function () {
  const id = new URLSearchParams(location.search).get("request") || "";
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || sessionStorage.getItem("vigil_token");
  const video = document.getElementById("video");
  const status = document.getElementById("status");
  window.vigilPlayback = { request: id, state: "loading" };
  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
    window.vigilPlayback.state = text;
  }
  if (!/^\d+$/.test(id)) { say("no request given (?request=ID)", true); return; }
  document.getElementById("title").textContent = `Playback · request ${id}`;
  video.addEventListener("playing", () => say("playing"));
  video.addEventListener("error", () => say("cannot play: not approved, not yours, or no footage", true));
  const url = `/api/v1/video/retrievals/${id}/playback.mp4`;
  video.src = token ? `${url}?token=${encodeURIComponent(token)}` : url;
  video.play().catch(() => {});
})();
