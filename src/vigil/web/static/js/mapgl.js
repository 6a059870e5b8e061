// The console map on MapLibre GL JS (vendored from npm): a base map drawn from the instance's own vectors
// (region outlines with their names, site polygons by protection class, camera points, field-of-view cones at
// close zoom), optionally over a
// deployment's raster tiles (VIGIL_TILE_URL: an XYZ URL, or a raster PMTiles archive read with range requests),
// with a metric scale bar. Works on a closed network: no style, sprite, glyph or tile is fetched from anywhere
// unless a tile URL is configured.
// The same interface as the old canvas map: setData({cameras, sites, regions}), fitBounds, focusCamera, destroy.
import * as maplibregl from "../vendor/maplibre-gl/maplibre-gl.mjs";
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { cssVar } from "./theme.js";
import { LIFECYCLE_COLORS, STATE_COLORS, statusInfo } from "./labels.js";

const CLASS_COLORS = { 1: "#ff5d5d", 2: "#f5b341", 3: "#4cc2ff" };
const CONE_ZOOM = 16; // field-of-view cones from this zoom on (a street block fills the screen)
const CONE_M = 35; // the cone's length when the camera's range is unknown
export const REMOTE_RING = "#c9b8ff"; // the ring of a camera that lives on an instance below (federation)
const REGION_LINE = "#9fb3c8";
// a region's name shows from this zoom on, by level (prefecture, city, town, village): no clutter far out
const LABEL_ZOOM = { 1: 0, 2: 0, 3: 9, 4: 13 };

/** A camera's marker colour: live state first (down, online), then lifecycle. */
export function cameraColor(c) {
  const s = statusInfo(c.status).state;
  if (s === "down" || s === "online") return STATE_COLORS[s];
  return LIFECYCLE_COLORS[c.lifecycle] || STATE_COLORS.unknown;
}

/** A field-of-view cone as a GeoJSON ring: apex at the camera, heading 0 = north, clockwise. */
export function coneRing(lon, lat, heading, hfov = 60, range = CONE_M, steps = 12) {
  const mLat = 111320;
  const mLon = 111320 * Math.cos((lat * Math.PI) / 180);
  const ring = [[lon, lat]];
  for (let i = 0; i <= steps; i += 1) {
    const a = ((heading - hfov / 2 + (hfov * i) / steps) * Math.PI) / 180;
    ring.push([lon + (range * Math.sin(a)) / mLon, lat + (range * Math.cos(a)) / mLat]);
  }
  ring.push([lon, lat]);
  return ring;
}

function fc(features) {
  return { type: "FeatureCollection", features };
}

/** True for a PMTiles archive: a URL whose path ends in .pmtiles ("https://maps.city.example/city.pmtiles"). */
export function isPmtiles(url) {
  return /\.pmtiles(\?.*)?$/i.test(url || "");
}

let pmtilesReady = null;
/** Register MapLibre's pmtiles:// protocol once; the vendored reader loads on first use (raster archives). */
function usePmtiles() {
  if (pmtilesReady) return;
  pmtilesReady = new Promise((resolve, reject) => {
    const s = Object.assign(document.createElement("script"),
      { src: new URL("../vendor/pmtiles/pmtiles.js", import.meta.url).href });
    s.addEventListener("load", () => resolve(new window.pmtiles.Protocol()));
    s.addEventListener("error", () => reject(new Error("the PMTiles reader did not load")));
    document.head.append(s);
  });
  maplibregl.addProtocol("pmtiles", async (params, abort) => (await pmtilesReady).tile(params, abort));
}

function tileSource(tileUrl) {
  if (!isPmtiles(tileUrl)) return { type: "raster", tiles: [tileUrl.replace("{s}", "a")], tileSize: 256, maxzoom: 19 };
  usePmtiles();
  return { type: "raster", url: `pmtiles://${tileUrl}`, tileSize: 256 };
}

function style(tileUrl) {
  const sources = {};
  const layers = [{ id: "bg", type: "background", paint: { "background-color": cssVar("--bg") || "#0d1520" } }];
  if (tileUrl) {  // a deployment's base layer under our vectors: XYZ tiles, or a PMTiles archive
    sources.tiles = tileSource(tileUrl);
    layers.push({ id: "tiles", type: "raster", source: "tiles" });
  }
  for (const id of ["regions", "sites", "cones", "cameras", "points"]) sources[id] = { type: "geojson", data: fc([]) };
  layers.push(
    { id: "region-fill", type: "fill", source: "regions", paint: { "fill-color": REGION_LINE, "fill-opacity": 0.04 } },
    { id: "region-line", type: "line", source: "regions", paint: { "line-color": REGION_LINE, "line-opacity": 0.8,
      "line-width": ["match", ["get", "level"], 1, 2.5, 2, 2, 3, 1.5, 1], "line-dasharray": [3, 2] } },
    { id: "site-fill", type: "fill", source: "sites", paint: { "fill-color": ["get", "color"], "fill-opacity": 0.16 } },
    { id: "site-line", type: "line", source: "sites", paint: { "line-color": ["get", "color"], "line-width": 1.5 } },
    { id: "cones", type: "fill", source: "cones", minzoom: CONE_ZOOM,
      paint: { "fill-color": ["get", "color"], "fill-opacity": 0.22 } },
    { id: "points", type: "circle", source: "points", paint: { "circle-color": ["get", "color"], "circle-radius": 3 } },
    { id: "cameras", type: "circle", source: "cameras", paint: {
      "circle-color": ["get", "color"],
      "circle-radius": ["interpolate", ["linear"], ["zoom"], 10, 2.5, 14, 4, 17, 6],
      "circle-stroke-color": ["case", ["get", "hl"], "#ffffff", ["get", "remote"], REMOTE_RING, "rgba(0,0,0,.55)"],
      "circle-stroke-width": ["case", ["get", "hl"], 3, ["get", "remote"], 2, 0.8] } });
  return { version: 8, sources, layers };
}

/** A MapLibre map with the console's layers. */
export class GlMap {
  constructor(container, { tileUrl = null, onCameraClick = null, onSiteClick = null, onViewChange = null, wedges = false,
    colorOf = cameraColor } = {}) {
    Object.assign(this, { container, onCameraClick, onSiteClick, onViewChange, wedges, colorOf, tileUrl });
    this.cameras = [];
    this.sites = [];
    this.points = [];
    this.regions = [];
    this.labels = [];
    this.highlight = null;
    this.conesOf = null; // the camera list the cones source was built from (null: empty)
  }

  /** Create the map (work starts here, not in the constructor). Resolves once the style is loaded. */
  start() {
    this.map = new maplibregl.Map({ container: this.container, style: style(this.tileUrl), center: [102.7, 25.0],
      zoom: 3, attributionControl: false, canvasContextAttributes: { preserveDrawingBuffer: true },
      dragRotate: false, pitchWithRotate: false });
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
    this.map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
    const canvas = this.map.getCanvas();
    canvas.setAttribute("aria-label", t("Map of cameras and sites"));
    this.canvas = canvas;
    this.map.on("click", (ev) => this.click(ev));
    this.map.on("mousemove", (ev) => {
      canvas.style.cursor = this.map.queryRenderedFeatures(ev.point, { layers: ["cameras", "site-fill"] }).length
        ? "pointer" : "";
    });
    // what is really drawn, for people reading the page's state (and tests): the cones and outlines on screen
    this.map.on("idle", () => {
      canvas.dataset.cones = String(this.map.queryRenderedFeatures({ layers: ["cones"] }).length);
      canvas.dataset.outlines = String(new Set(this.map.queryRenderedFeatures({ layers: ["region-fill", "region-line"] })
        .map((f) => f.properties.code)).size);
      canvas.dataset.drawn = canvas.dataset.cameras || "0"; // the cameras in the layer when the map came to rest
    });
    this.map.on("moveend", () => {
      canvas.dataset.zoom = this.map.getZoom().toFixed(2);
      this.showLabels();
      this.paintCones();
      const b = this.map.getBounds();
      this.onViewChange?.([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]);
    });
    // the sources exist once the style is in: hand them the layers then, not after a first empty render ("load")
    this.loaded = new Promise((resolve) => this.map.once("style.load", resolve)).then(() => this.paint());
    return this.loaded;
  }

  click(ev) {
    const hit = this.map.queryRenderedFeatures(ev.point, { layers: ["cameras"] })[0];
    if (hit) {
      const c = this.cameras.find((x) => x.id === hit.properties.id);
      if (c) this.onCameraClick?.(c);
      return;
    }
    const site = this.map.queryRenderedFeatures(ev.point, { layers: ["site-fill"] })[0];
    if (site) {
      const s = this.sites.find((x) => String(x.id) === String(site.properties.id));
      if (s) this.onSiteClick?.(s, [ev.point.x, ev.point.y]);
    }
  }

  /** Replace any of the layers' data; only the layers given are sent to the map again. `regions` are the outline
   * features of GET /regions/geojson. */
  setData({ cameras, sites, points, regions } = {}) {
    if (cameras) this.cameras = cameras.filter((c) => Number.isFinite(c.lon) && Number.isFinite(c.lat));
    if (sites) this.sites = sites.filter((s) => s.geometry);
    if (points) this.points = points;
    if (regions) this.regions = regions.filter((f) => f.geometry);
    this.paint({ cameras: !!cameras, sites: !!sites, points: !!points, regions: !!regions });
  }

  /** The region outlines and their name labels (HTML markers: no glyphs to fetch on a closed network). */
  paintRegions() {
    this.map.getSource("regions").setData(fc(this.regions));
    for (const m of this.labels) m.remove();
    this.labels = this.regions.filter((f) => Array.isArray(f.properties?.label)).map((f) => {
      const el = h("div", { class: "map-region-label", lang: "zh", dataset: { code: f.properties.code },
        style: { color: "#e3ebf3", font: `${f.properties.level < 4 ? 600 : 400} 13px sans-serif`, pointerEvents: "none",
          textShadow: "0 0 4px #000, 0 0 2px #000, 0 0 1px #000", whiteSpace: "nowrap" } }, f.properties.name);
      const marker = new maplibregl.Marker({ element: el }).setLngLat(f.properties.label).addTo(this.map);
      marker.level = f.properties.level;
      return marker;
    });
    this.showLabels();
  }

  /** Show each region's name from its level's zoom on. */
  showLabels() {
    const z = this.map?.getZoom() ?? 0;
    for (const m of this.labels) m.getElement().hidden = z < (LABEL_ZOOM[m.level] ?? 13);
    if (this.canvas) this.canvas.dataset.labels = String(this.labels.filter((m) => !m.getElement().hidden).length);
  }

  /** Send the layers' features to the map (all of them unless told which); cones only when they can show. */
  paint({ cameras = true, sites = true, points = true, regions = true } = {}) {
    const src = (id) => this.map?.getSource(id);
    if (!src("cameras")) return;
    if (regions) this.paintRegions();
    if (cameras) {
      src("cameras").setData(fc(this.cameras.map((c) => ({ type: "Feature",
        geometry: { type: "Point", coordinates: [c.lon, c.lat] },
        properties: { id: c.id, color: this.colorOf(c), hl: c.id === this.highlight, remote: !!c.remote } }))));
      this.paintCones();
    }
    if (sites) {
      src("sites").setData(fc(this.sites.map((s) => ({ type: "Feature", geometry: s.geometry,
        properties: { id: s.id, color: CLASS_COLORS[s.protection_class] || "#8ea3bb" } }))));
    }
    if (points) {
      src("points").setData(fc(this.points.map((p) => ({ type: "Feature",
        geometry: { type: "Point", coordinates: [p.lon, p.lat] }, properties: { color: p.color || "#ff5d5d" } }))));
    }
    if (this.wedges) this.map.setLayerZoomRange("cones", 0, 24);
    this.mark();
  }

  /** The cones of the cameras shown, built once the view is close enough to draw them (or always, with wedges):
   * a whole city's cones are thousands of polygons nobody sees at city zoom. */
  paintCones() {
    const src = this.map?.getSource("cones");
    if (!src) return;
    const close = this.wedges || this.map.getZoom() >= CONE_ZOOM - 1;
    // far out: keep cones that are still right, drop those of cameras no longer shown
    const want = close ? this.cameras : this.conesOf === this.cameras ? this.conesOf : null;
    if (want === this.conesOf) return;
    this.conesOf = want;
    src.setData(fc((want || []).filter((c) => Number.isFinite(c.heading_deg)).map((c) => ({
      type: "Feature", properties: { color: this.colorOf(c) },
      geometry: { type: "Polygon", coordinates: [coneRing(c.lon, c.lat, c.heading_deg, c.hfov_deg || 60,
        c.range_m || CONE_M)] } }))));
  }

  /** What is in the layers, on the canvas's data attributes (for people reading the page's state, and tests). */
  mark() {
    Object.assign(this.canvas.dataset, { cameras: String(this.cameras.length), sites: String(this.sites.length),
      points: String(this.points.length), regions: String(this.regions.length), highlight: this.highlight || "",
      remote: String(this.cameras.filter((c) => c.remote).length) });
  }

  /** Fit the view to [minLon, minLat, maxLon, maxLat], clear of the legend and controls. */
  fitBounds(b, { maxZ = 18 } = {}) {
    if (!b || !this.map) return;
    this.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: { top: 40, right: 60, bottom: 90, left: 30 },
      maxZoom: maxZ, animate: false });
    this.canvas.dataset.zoom = this.map.getZoom().toFixed(2);
  }

  /** Centre on a camera, zoom in and ring it. */
  focusCamera(c, z = 17) {
    const hit = this.cameras.find((x) => x.id === c.id);
    if (!hit || !this.map) return;
    this.highlight = hit.id;
    this.paint({ sites: false, points: false, regions: false });
    this.map.jumpTo({ center: [hit.lon, hit.lat], zoom: Math.max(this.map.getZoom(), z) });
    this.canvas.dataset.zoom = this.map.getZoom().toFixed(2);
  }

  destroy() {
    this.map?.remove();
    this.map = null; // data that comes after (a late layer) is dropped, not sent to a removed map
  }
}
