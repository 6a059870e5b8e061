// The map page: region outlines, site polygons and camera points of the selected region, drawn from our own vectors.
import { api, hasApi } from "../api.js";
import { debounce, h, mount, toast } from "../dom.js";
import { KINDS, LIFECYCLE_COLORS, LIFECYCLES, SITE_KINDS, STATE_COLORS, label, num, options, statusInfo } from "../labels.js";
import { GlMap, REMOTE_RING } from "../mapgl.js";
import { select } from "../dom.js";
import { bounds } from "../mercator.js";
import { consoleConfig, loadCameraPoints, loadRegionOutlines, loadSites } from "../geo.js";
import { regionName } from "../regions.js";
import { t } from "../i18n.js";

export const regionAware = true;
const LIMIT = 25000; // the whole demo city (20,547 cameras) in one layer
const REFRESH_MS = 60000; // live states change: repaint the markers every minute

function legend() {
  const item = (color, text, square = false) => h("span", {},
    h("i", { style: { background: color, borderRadius: square ? "2px" : "50%" } }), t(text));
  return h("div", { class: "map-legend" },
    item(STATE_COLORS.online, "Online"), item(STATE_COLORS.down, "Down"),
    ...Object.entries(LIFECYCLE_COLORS).map(([k, c]) => item(c, LIFECYCLES[k])),
    h("span", {}, h("i", { style: { border: `2px solid ${REMOTE_RING}`, borderRadius: "50%" } }), t("Remote camera")),
    h("br"), item("#ff5d5d", "Class-1 site", true), item("#f5b341", "Class-2", true), item("#4cc2ff", "Class-3", true));
}

/** The remote cameras of `region` (federation): id → origin; empty when this instance has none. */
async function remoteIn(region, signal) {
  if (!(await hasApi("/api/v1/federation/remote"))) return new Map();
  const rows = await api("/federation/remote", { query: { region, limit: 10000 }, signal }).catch(() => []);
  return new Map(rows.map((r) => [r.id, r.origin]));
}

const boxes = new WeakMap();

/** [minLon, minLat, maxLon, maxLat] of a site's geometry (cached per site object). */
function siteBox(s) {
  if (!boxes.has(s)) boxes.set(s, bounds([], s.geometry ? [s.geometry] : []));
  return boxes.get(s);
}

function inBox(b, c) {
  return b && c.lon >= b[0] && c.lon <= b[2] && c.lat >= b[1] && c.lat <= b[3];
}

const CELL = 0.01; // degrees: the grid cell of sitesHolding (about 1 km)

/** The sites whose box holds one of `cams`: the cameras hashed into a grid once, each site looks in its cells
 *  (not every site against every camera: a whole city filtered was 2,000 × 20,000 tests). */
function sitesHolding(sites, cams) {
  const grid = new Map();
  for (const c of cams) {
    const k = `${Math.floor(c.lon / CELL)},${Math.floor(c.lat / CELL)}`;
    if (!grid.has(k)) grid.set(k, []);
    grid.get(k).push(c);
  }
  return sites.filter((s) => {
    const b = siteBox(s);
    if (!b) return false;
    for (let x = Math.floor(b[0] / CELL); x <= Math.floor(b[2] / CELL); x += 1) {
      for (let y = Math.floor(b[1] / CELL); y <= Math.floor(b[3] / CELL); y += 1) {
        if (grid.get(`${x},${y}`)?.some((c) => inBox(b, c))) return true;
      }
    }
    return false;
  });
}

/** One map page: loads a region's layers, follows pans when the layer is truncated, refreshes states. */
class MapPage {
  constructor(el, region, ctx, config) {
    Object.assign(this, { el, region, ctx, all: [], allSites: [], truncated: false, sites: 0, bbox: null, ctrl: null,
      timer: 0 });
    this.wrap = h("div", { class: "map-wrap", id: "map" });
    this.status = h("div", { class: "map-status badge" }, t("Loading…"));
    this.title = h("span", { class: "crumbs", lang: "zh" });
    this.find = h("input", { type: "search", id: "map-search", placeholder: t("Find a camera on the map…"),
      "aria-label": t("Find a camera on the map"), list: "map-matches", autocomplete: "off" });
    this.matches = h("datalist", { id: "map-matches" });
    this.onlyDown = h("input", { type: "checkbox", id: "map-only-down" });
    this.kind = select({ id: "map-kind", "aria-label": t("Kind") }, t("Any kind"), options(KINDS), "");
    this.lifecycle = select({ id: "map-lifecycle", "aria-label": t("Lifecycle") }, t("Any lifecycle"),
      options(LIFECYCLES), "");
    mount(el, h("div", { class: "map-view" }, h("div", { class: "view-head" }, h("h1", {}, t("Map")), this.title,
      h("span", { class: "spacer" }), this.kind, this.lifecycle,
      h("label", { class: "inline muted" }, this.onlyDown, ` ${t("Only cameras down")}`),
      this.find, this.matches), this.wrap));
    this.map = new GlMap(this.wrap, { tileUrl: config.tile_url || null,
      onCameraClick: (c) => ctx.navigate("camera", {}, c.id),
      onSiteClick: (site, at) => this.sitePopup(site, at),
      onViewChange: (bbox) => { this.bbox = bbox; this.followView(); } });
    this.wrap.append(legend(), this.status);
    if (config.tile_attribution) this.wrap.append(h("div", { class: "map-attrib" }, config.tile_attribution));
    this.followView = debounce(() => this.truncated && this.reloadCameras(), 350);
    for (const el of [this.onlyDown, this.kind, this.lifecycle]) el.addEventListener("change", () => this.show());
    this.find.addEventListener("input", () => this.search());
    this.timer = setTimeout(() => this.tick(), REFRESH_MS);
  }

  /** Apply the filters (only down, kind, lifecycle): the cameras, the sites that hold one, and the counts. */
  show() {
    const keep = (c) => (!this.onlyDown.checked || statusInfo(c.status).state === "down")
      && (!this.kind.value || c.kind === this.kind.value) && (!this.lifecycle.value || c.lifecycle === this.lifecycle.value);
    const filtered = this.onlyDown.checked || this.kind.value || this.lifecycle.value;
    const cams = filtered ? this.all.filter(keep) : this.all;
    const sites = filtered ? sitesHolding(this.allSites, cams) : this.allSites;
    this.map.setData({ cameras: cams, sites });
    this.shown = { cameras: cams.length, sites: sites.length };
    if (this.lastRes) this.showStatus(this.lastRes);
  }

  /** Mark the cameras that live on an instance below (their ring), with the instance they come from. */
  markRemote() {
    for (const c of this.all) c.remote = this.remote?.get(c.id) || null;
  }

  sitePopup(site, [x, y]) {
    this.popup?.remove();
    const close = h("button", { type: "button", class: "link", "aria-label": t("Close"), onclick: () => this.popup.remove() },
      "×");
    this.popup = h("div", { class: "map-popup", id: "site-popup", style: { left: `${x}px`, top: `${y}px` } },
      close, h("strong", { lang: "zh" }, site.name), h("br"),
      `${label(SITE_KINDS, site.kind)} · ${t("class {{n}}", { n: site.protection_class ?? "—" })}${site.sensitive
        ? ` · ${t("sensitive")}` : ""}`, h("br"),
      h("a", { href: this.ctx.hashFor("cameras", { site: site.id }) }, t("Cameras of this site →")));
    this.wrap.append(this.popup);
  }

  showStatus(res) {
    this.lastRes = res;
    const shown = num(this.shown?.cameras ?? res.cameras.length);
    this.sites = this.shown?.sites ?? this.sites;
    this.status.textContent = res.truncated
      ? t("{{shown}} of {{total}} cameras shown · zoom in for more · {{sites}} sites", { shown, total: num(res.total ?? "many"),
        sites: num(this.sites) })
      : t("{{shown}} cameras · {{sites}} sites", { shown, sites: num(this.sites) });
  }

  search() {
    const text = this.find.value.trim();
    const exact = this.map.cameras.find((c) => c.id === text || c.name === text);
    if (exact) {
      this.map.focusCamera(exact);
      return;
    }
    const q = text.toLowerCase();
    const hits = q ? this.map.cameras.filter((c) => c.name.toLowerCase().includes(q) || c.id.startsWith(q))
      .slice(0, 12) : [];
    mount(this.matches, hits.map((c) => h("option", { value: c.id }, c.name)));
  }

  abort() {
    this.ctrl?.abort();
    this.ctrl = new AbortController();
    return this.ctrl.signal;
  }

  /** Load the region: outlines, sites and cameras, then fit the view. */
  async load(region) {
    this.region = region;
    const signal = this.abort();
    this.status.textContent = t("Loading…");
    this.title.textContent = region ? (this.ctx.tree?.nameOf(region) || (await regionName(region)) || region)
      : t("All regions");
    try {
      const [sites, cams, remote, outlines] = await Promise.all([loadSites(region, { signal }),
        loadCameraPoints(region, { limit: LIMIT, signal }), remoteIn(region, signal),
        loadRegionOutlines(region, { signal })]);
      Object.assign(this, { truncated: cams.truncated, sites: sites.items.length, all: cams.cameras,
        allSites: sites.items, remote });
      this.markRemote();
      // the view first: the layers are then cut into tiles once, at the zoom they are seen at (a region with
      // nothing placed yet is framed by its outlines)
      const placed = [...cams.cameras, ...sites.items].length;
      this.map.fitBounds(bounds(cams.cameras.map((c) => [c.lon, c.lat]),
        placed ? sites.items.map((s) => s.geometry) : outlines.map((f) => f.geometry)));
      this.map.setData({ regions: outlines });
      this.show();
      this.showStatus(cams);
    } catch (e) {
      if (e.name !== "AbortError") this.status.textContent = t("Could not load the map: {{error}}", { error: e.message });
    }
  }

  /** Reload the camera layer only (after a pan when truncated, or to refresh live states). */
  async reloadCameras({ quiet = false } = {}) {
    const signal = this.abort();
    try {
      const [res, remote] = await Promise.all([loadCameraPoints(this.region, {
        bbox: this.truncated ? this.bbox : null, limit: LIMIT, signal }), remoteIn(this.region, signal)]);
      Object.assign(this, { all: res.cameras, remote });  // a reload that cut short the first load still rings
      this.markRemote();
      this.show();
      this.showStatus(res);
    } catch (e) {
      if (e.name !== "AbortError" && !quiet) toast(t("Map: {{error}}", { error: e.message }));
    }
  }

  tick() {
    if (!document.hidden) this.reloadCameras({ quiet: true });
    this.timer = setTimeout(() => this.tick(), REFRESH_MS);
  }

  destroy() {
    this.ctrl?.abort();
    clearTimeout(this.timer);
    this.map.destroy();
  }
}

/** Render the map view. */
export async function render(el, route, ctx) {
  const page = new MapPage(el, route.params.get("region"), ctx, await consoleConfig());
  page.map.start();
  page.load(page.region);
  return {
    update(r) {
      const next = r.params.get("region");
      if (next !== page.region) page.load(next);
    },
    destroy: () => page.destroy(),
  };
}
