// The video wall: 1, 4, 9 or 16 tiles playing live video inline (hls.js, as live view does). Drag cameras
// from the camera tree onto tiles; save the layout on the server (each user's own); with more cameras than
// tiles and a cycle period, the wall shows them a page at a time. A tile says "camera down", "no video" or
// "starting" rather than waiting (js/liveplayer.js).
import { api } from "../api.js";
import { h, mount, toast } from "../dom.js";
import { t } from "../i18n.js";
import { statusInfo } from "../labels.js";
import { loadHls, playLive } from "../liveplayer.js";
import { regionNames } from "../regions.js";

export const regionAware = true;
const SIZES = [1, 4, 9, 16];
const STATE_TEXT = () => ({ starting: t("starting…"), live: t("live"), down: t("camera down"),
  no_video: t("no video"), error: t("cannot play") });

function cameraTree(cameras, names, onAdd) {
  const byRegion = new Map();
  for (const c of cameras) byRegion.set(c.region_code, [...(byRegion.get(c.region_code) || []), c]);
  return h("div", { class: "wall-tree", id: "wall-tree", role: "tree" },
    cameras.length ? null : h("p", { class: "muted" }, t("No cameras in service here.")),
    [...byRegion].map(([code, cams]) => h("details", { open: true },
      h("summary", { lang: "zh" }, `${names.get(code) || code} (${cams.length})`),
      h("ul", { role: "group" }, cams.map((c) => {
        const down = statusInfo(c.status).state === "down";
        return h("li", { draggable: "true", class: `wall-cam${down ? " down" : ""}`, role: "treeitem",
          dataset: { camera: c.id }, title: down ? t("camera down") : c.id,
          ondragstart: (ev) => { ev.dataTransfer.setData("text/plain", c.id); ev.dataTransfer.effectAllowed = "copy"; },
          ondblclick: () => onAdd(c.id),  // a double click adds it to the first empty tile, or to the group's end
        }, h("span", { lang: "zh" }, c.name), down ? h("span", { class: "badge bad" }, t("down")) : null);
      })))));
}

/** Render the wall into `el`. */
export async function render(el, route, ctx) {
  const region = route.params.get("region");
  const [page, saved] = await Promise.all([
    api("/cameras", { query: { region, lifecycle: "in_service", limit: 500 } }),
    api("/video/walls"), loadHls()]);
  const names = await regionNames(page.items.map((c) => c.region_code));
  const camName = new Map(page.items.map((c) => [c.id, c.name]));
  const wall = { name: t("My wall"), size: 4, cameras: [], cycle_s: 0, page: 0, players: [], timer: 0 };
  window.vigilWall = { tiles: [], page: 0 };

  const sizeSel = h("select", { id: "wall-size", "aria-label": t("Tiles") },
    SIZES.map((n) => h("option", { value: n, selected: n === wall.size }, t("{{n}} tiles", { n }))));
  const nameBox = h("input", { id: "wall-name", value: wall.name, maxlength: 100, "aria-label": t("Layout name") });
  const cycleBox = h("input", { id: "wall-cycle", type: "number", min: 0, max: 3600, step: 5, value: 0,
    "aria-label": t("Cycle every (s)"), title: t("Seconds per page when there are more cameras than tiles (0: no cycle)") });
  const hint = h("p", { class: "muted" }, t("Drag a camera onto a tile, or double-click it to add it to the wall."));
  const layouts = h("select", { id: "wall-layouts", "aria-label": t("Saved layouts") });
  const pageText = h("span", { id: "wall-page", class: "muted" });
  const grid = h("div", { id: "wall-grid", class: "wall-grid" });

  function drawLayouts(items) {
    mount(layouts, h("option", { value: "" }, t("Saved layouts…")),
      items.map((w) => h("option", { value: w.name }, `${w.name} · ${t("{{n}} tiles", { n: w.size })}`)));
    layouts.items = items;
  }

  function stopPlayers() {
    for (const p of wall.players) p?.stop();
    wall.players = [];
  }

  function pages() {
    return Math.max(1, Math.ceil(wall.cameras.length / wall.size));
  }

  function drawTiles() {
    stopPlayers();
    const n = Math.sqrt(wall.size);
    grid.style.gridTemplateColumns = `repeat(${n}, 1fr)`;
    const first = wall.page * wall.size;
    window.vigilWall = { tiles: [], page: wall.page, pages: pages(), size: wall.size };
    pageText.textContent = pages() > 1 ? t("page {{page}} of {{pages}}", { page: wall.page + 1, pages: pages() }) : "";
    mount(grid, Array.from({ length: wall.size }, (_, i) => {
      const cam = wall.cameras[first + i] || null;
      const info = { camera: cam, state: cam ? "starting" : "empty" };
      window.vigilWall.tiles.push(info);
      const video = h("video", { muted: true, autoplay: true, playsinline: true });
      video.muted = true;
      const badge = h("span", { class: "wall-state" }, cam ? t("starting…") : "");
      const clear = cam ? h("button", { type: "button", class: "ghost wall-clear", title: t("Empty this tile"),
        onclick: () => { wall.cameras[first + i] = null; drawTiles(); } }, "×") : null;
      const tile = h("div", { class: `wall-tile${cam ? "" : " empty"}`, dataset: { index: i, camera: cam || "" },
        ondragover: (ev) => { ev.preventDefault(); tile.classList.add("over"); },
        ondragleave: () => tile.classList.remove("over"),
        ondrop: (ev) => {
          ev.preventDefault();
          const id = ev.dataTransfer.getData("text/plain");
          if (!id) return;
          while (wall.cameras.length < first + i) wall.cameras.push(null);
          wall.cameras[first + i] = id;
          drawTiles();
        } },
      video, h("div", { class: "wall-label" }, h("span", { lang: "zh" }, cam ? camName.get(cam) || cam : t("Drop a camera here")),
        badge, clear));
      if (cam) {
        wall.players[i] = playLive(video, cam, { token: sessionStorage.getItem("vigil_token") || "",
          onState: (state, detail) => {
            info.state = state;
            info.detail = detail;
            badge.textContent = STATE_TEXT()[state] || state;
            tile.dataset.state = state;
          } });
        info.video = () => video;
      }
      return tile;
    }));
  }

  function addCamera(id) {
    const free = wall.cameras.indexOf(null);
    if (free >= 0) wall.cameras[free] = id;
    else wall.cameras.push(id);
    drawTiles();
    restartCycle();
  }

  function restartCycle() {
    clearInterval(wall.timer);
    if (wall.cycle_s > 0 && pages() > 1) {
      wall.timer = setInterval(() => {
        wall.page = (wall.page + 1) % pages();
        drawTiles();
      }, wall.cycle_s * 1000);
    }
  }

  function apply(layout) {
    Object.assign(wall, { name: layout.name, size: layout.size, cameras: [...layout.cameras],
      cycle_s: layout.cycle_s, page: 0 });
    sizeSel.value = String(wall.size);
    nameBox.value = wall.name;
    cycleBox.value = String(wall.cycle_s);
    drawTiles();
    restartCycle();
  }

  async function save() {
    const body = { name: nameBox.value.trim(), size: wall.size, cameras: wall.cameras.slice(0, 256),
      cycle_s: Number(cycleBox.value) || 0 };
    try {
      const out = await api("/video/walls", { method: "PUT", body });
      wall.name = out.name;
      wall.cycle_s = out.cycle_s;
      drawLayouts((await api("/video/walls")).items);
      layouts.value = out.name;
      restartCycle();
      toast(t("Layout {{name}} saved", { name: out.name }), 3000);
    } catch (e) {
      toast(t("Cannot save the layout: {{error}}", { error: e.message }));
    }
  }

  async function remove() {
    const w = (layouts.items || []).find((x) => x.name === layouts.value);
    if (!w) {
      toast(t("Pick a saved layout to delete"), 3000);
      return;
    }
    try {
      await api(`/video/walls/${w.id}`, { method: "DELETE" });
      drawLayouts((await api("/video/walls")).items);
      toast(t("Layout {{name}} deleted", { name: w.name }), 3000);
    } catch (e) {
      toast(t("Cannot delete the layout: {{error}}", { error: e.message }));
    }
  }

  sizeSel.addEventListener("change", () => {
    wall.size = Number(sizeSel.value);
    wall.page = 0;
    drawTiles();
    restartCycle();
  });
  cycleBox.addEventListener("change", () => {
    wall.cycle_s = Number(cycleBox.value) || 0;
    restartCycle();
  });
  layouts.addEventListener("change", () => {
    const w = (layouts.items || []).find((x) => x.name === layouts.value);
    if (w) apply(w);
  });
  drawLayouts(saved.items);
  mount(el,
    h("div", { class: "view-head" }, h("h1", {}, t("Video wall")), pageText),
    h("div", { class: "filters wall-bar" }, sizeSel, layouts, nameBox,
      h("label", {}, t("Cycle every (s)"), " ", cycleBox),
      h("button", { type: "button", class: "primary", id: "wall-save", onclick: save }, t("Save layout")),
      h("button", { type: "button", id: "wall-delete", onclick: remove }, t("Delete layout"))),
    hint, h("div", { class: "wall-layout" }, cameraTree(page.items, names, addCamera), grid));
  if (saved.items.length) {
    layouts.value = saved.items[0].name;
    apply(saved.items[0]);
  } else {
    drawTiles();
  }
  return {
    destroy() {
      clearInterval(wall.timer);
      stopPlayers();
    },
  };
}
