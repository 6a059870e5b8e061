// The map page: site polygons and camera points of the selected region, drawn from our own vectors.
import { debounce, h, mount, toast } from "../dom.js";
import { LIFECYCLE_COLORS, LIFECYCLES, STATE_COLORS, num } from "../labels.js";
import { MapCanvas } from "../mapcanvas.js";
import { bounds } from "../mercator.js";
import { consoleConfig, loadCameraPoints, loadSites } from "../geo.js";
import { regionName } from "../regions.js";

export const regionAware = true;
const LIMIT = 25000; // the whole demo city (20,547 cameras) in one layer

function legend() {
  const item = (color, text) => h("span", {}, h("i", { style: { background: color } }), text);
  return h("div", { class: "map-legend" },
    item(STATE_COLORS.online, "Online"), item(STATE_COLORS.down, "Down"),
    ...Object.entries(LIFECYCLE_COLORS).map(([k, c]) => item(c, LIFECYCLES[k])),
    h("br"), h("span", {}, h("i", { style: { background: "#ff5d5d", borderRadius: "2px" } }), "Class-1 site"),
    h("span", {}, h("i", { style: { background: "#f5b341", borderRadius: "2px" } }), "Class-2"),
    h("span", {}, h("i", { style: { background: "#4cc2ff", borderRadius: "2px" } }), "Class-3"));
}

/** Render the map view. */
export async function render(el, route, ctx) {
  const wrap = h("div", { class: "map-wrap", id: "map" });
  const status = h("div", { class: "map-status badge" }, "Loading…");
  const title = h("span", { class: "crumbs", lang: "zh" });
  const find = h("input", { type: "search", id: "map-search", placeholder: "Find a camera on the map…",
    "aria-label": "Find a camera on the map", list: "map-matches", autocomplete: "off" });
  const matches = h("datalist", { id: "map-matches" });
  mount(el, h("div", { class: "map-view" },
    h("div", { class: "view-head" }, h("h1", {}, "Map"), title, h("span", { class: "spacer" }), find, matches),
    wrap));
  const config = await consoleConfig();
  let region = route.params.get("region");
  let ctrl = null;
  let truncated = false;
  let sitesCount = 0;

  const refetchView = debounce(async (bbox) => {
    if (!truncated) return;
    ctrl?.abort();
    ctrl = new AbortController();
    try {
      const res = await loadCameraPoints(region, { bbox, limit: LIMIT, signal: ctrl.signal });
      map.setData({ cameras: res.cameras });
      showStatus(res);
    } catch (e) {
      if (e.name !== "AbortError") toast(`Map: ${e.message}`);
    }
  }, 350);

  const map = new MapCanvas(wrap, {
    tileUrl: config.tile_url || null,
    onCameraClick: (c) => ctx.navigate("camera", {}, c.id),
    onViewChange: (bbox) => refetchView(bbox),
  });
  wrap.append(legend(), status);
  if (config.tile_attribution) wrap.append(h("div", { class: "map-attrib" }, config.tile_attribution));

  find.addEventListener("input", () => {
    const q = find.value.trim().toLowerCase();
    const exact = map.cameras.find((c) => c.id === find.value.trim() || c.name === find.value.trim());
    if (exact) {
      map.focusCamera(exact);
      return;
    }
    const hits = q ? map.cameras.filter((c) => c.name.toLowerCase().includes(q) || c.id.startsWith(q)).slice(0, 12)
      : [];
    mount(matches, hits.map((c) => h("option", { value: c.id }, c.name)));
  });

  function showStatus(res) {
    const shown = num(res.cameras.length);
    status.textContent = res.truncated
      ? `${shown} of ${num(res.total ?? "many")} cameras shown · zoom in for more · ${num(sitesCount)} sites`
      : `${shown} cameras · ${num(sitesCount)} sites`;
  }

  async function load() {
    ctrl?.abort();
    ctrl = new AbortController();
    const signal = ctrl.signal;
    status.textContent = "Loading…";
    title.textContent = region ? (ctx.tree?.nameOf(region) || (await regionName(region)) || region) : "All regions";
    try {
      const [sites, cams] = await Promise.all([
        loadSites(region, { signal }), loadCameraPoints(region, { limit: LIMIT, signal })]);
      truncated = cams.truncated;
      sitesCount = sites.items.length;
      map.setData({ cameras: cams.cameras, sites: sites.items });
      map.fitBounds(bounds(cams.cameras.map((c) => [c.lon, c.lat]), sites.items.map((s) => s.geometry)));
      showStatus(cams);
    } catch (e) {
      if (e.name !== "AbortError") status.textContent = `Could not load the map: ${e.message}`;
    }
  }

  load();
  return {
    update(r) {
      const next = r.params.get("region");
      if (next !== region) {
        region = next;
        load();
      }
    },
    destroy() {
      ctrl?.abort();
      map.destroy();
    },
  };
}
