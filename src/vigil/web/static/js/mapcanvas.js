// A small vector map on <canvas>: site polygons and camera points in Web Mercator, with pan and zoom.
// No tiles unless a tile URL template ({z}/{x}/{y}) is configured by the deployment.
import { h } from "./dom.js";
import { LIFECYCLE_COLORS, STATE_COLORS, statusInfo } from "./labels.js";
import { eachPosition, metresPerPixel, project, unproject } from "./mercator.js";
import { cssVar } from "./theme.js";
import { t } from "./i18n.js";

const MIN_Z = 2;
const MAX_Z = 21;
const HIT_PX = 9;

/** The marker colour of a camera: its live state when known, otherwise its lifecycle. */
export function cameraColor(props) {
  const s = statusInfo(props.status);
  if (s.state === "online" || s.state === "down") return STATE_COLORS[s.state];
  return LIFECYCLE_COLORS[props.lifecycle] || STATE_COLORS.unknown;
}

const SITE_COLORS = { 1: "#ff5d5d", 2: "#f5b341", 3: "#4cc2ff" };

/** An interactive map; feed it cameras ({id, name, lon, lat, ...}) and sites ({name, geometry, ...}). */
export class MapCanvas {
  constructor(container, { onCameraClick = null, onSiteClick = null, onViewChange = null, tileUrl = null,
    wedges = false, colorOf = cameraColor } = {}) {
    this.canvas = h("canvas", { class: "map-canvas", "aria-label": t("Map of cameras and sites"), role: "img" });
    this.tip = h("div", { class: "map-tip", hidden: true });
    this.controls = h("div", { class: "map-controls" },
      h("button", { type: "button", title: t("Zoom in"), onclick: () => this.zoomBy(1) }, "+"),
      h("button", { type: "button", title: t("Zoom out"), onclick: () => this.zoomBy(-1) }, "−"),
      h("button", { type: "button", title: t("Fit to data"), onclick: () => this.fitData() }, "⤢"));
    this.scale = h("div", { class: "map-attrib" });
    container.append(this.canvas, this.tip, this.controls, this.scale);
    this.container = container;
    Object.assign(this, { onCameraClick, onSiteClick, onViewChange, tileUrl, wedges, colorOf });
    this.cameras = [];
    this.points = [];
    this.sites = [];
    this.highlight = null;
    this.center = project(102.7, 25.04);
    this.z = 12;
    this.tiles = new Map();
    this.screen = new Float32Array(0);
    this.bindEvents();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(container);
    this.onTheme = () => this.redraw();
    window.addEventListener("vigil-theme", this.onTheme);
    this.resize();
  }

  destroy() {
    this.resizeObserver.disconnect();
    window.removeEventListener("vigil-theme", this.onTheme);
    cancelAnimationFrame(this.frame);
  }

  /** Replace the data; cameras need lon/lat, sites a GeoJSON geometry. */
  setData({ cameras, sites, points }) {
    if (cameras) {
      this.cameras = cameras.filter((c) => Number.isFinite(c.lon) && Number.isFinite(c.lat))
        .map((c) => ({ ...c, w: project(c.lon, c.lat), color: this.colorOf(c) }));
    }
    if (points) this.points = points.map((p) => ({ ...p, w: project(p.lon, p.lat) }));
    if (sites) this.sites = sites.filter((s) => s.geometry || Number.isFinite(s.lon)).map((s) => this.prepSite(s));
    this.redraw();
  }

  prepSite(s) {
    const rings = [];
    const g = s.geometry || { type: "Point", coordinates: [s.lon, s.lat] };
    const addPoly = (poly) => { for (const ring of poly) rings.push(ring.map(([lon, lat]) => project(lon, lat))); };
    if (g.type === "Polygon") addPoly(g.coordinates);
    else if (g.type === "MultiPolygon") g.coordinates.forEach(addPoly);
    const pts = [];
    if (!rings.length) eachPosition(g, (lon, lat) => pts.push(project(lon, lat)));
    return { ...s, rings, pts };
  }

  /** Fit the view to [minLon, minLat, maxLon, maxLat], keeping clear of the legend and controls. */
  fitBounds(b, { maxZ = 18, pad = { t: 40, r: 60, b: 90, l: 30 } } = {}) {
    if (!b) return;
    const [x0, y1] = project(b[0], b[1]);
    const [x1, y0] = project(b[2], b[3]);
    const w = Math.max(x1 - x0, 1e-9);
    const hgt = Math.max(y1 - y0, 1e-9);
    const availW = Math.max(40, this.width - pad.l - pad.r);
    const availH = Math.max(40, this.height - pad.t - pad.b);
    this.z = Math.max(MIN_Z, Math.min(maxZ, Math.log2(availW / (256 * w)), Math.log2(availH / (256 * hgt))));
    // Centre the box in the padded area.
    const s = 256 * 2 ** this.z;
    this.center = [(x0 + x1) / 2 - (pad.l - pad.r) / 2 / s, (y0 + y1) / 2 - (pad.t - pad.b) / 2 / s];
    this.redraw(true);
  }

  /** Fit the view to everything loaded. */
  fitData() {
    const xs = [];
    for (const c of this.cameras) xs.push(c.w);
    for (const s of this.sites) for (const r of s.rings) xs.push(...r);
    for (const s of this.sites) xs.push(...s.pts);
    if (!xs.length) return;
    let [a, b, c, d] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const [x, y] of xs) { a = Math.min(a, x); b = Math.min(b, y); c = Math.max(c, x); d = Math.max(d, y); }
    const [lon0, lat0] = unproject(a, d);
    const [lon1, lat1] = unproject(c, b);
    this.fitBounds([lon0, lat0, lon1, lat1]);
  }

  /** Centre on a camera, zoom in and ring it. */
  focusCamera(c, z = 17) {
    const hit = this.cameras.find((x) => x.id === c.id);
    if (!hit) return;
    this.highlight = hit.id;
    this.center = [...hit.w];
    this.z = Math.max(this.z, z);
    this.redraw(true);
  }

  /** The visible [minLon, minLat, maxLon, maxLat]. */
  viewBounds() {
    const s = 256 * 2 ** this.z;
    const [cx, cy] = this.center;
    const [lon0, lat0] = unproject(cx - this.width / 2 / s, cy + this.height / 2 / s);
    const [lon1, lat1] = unproject(cx + this.width / 2 / s, cy - this.height / 2 / s);
    return [lon0, lat0, lon1, lat1];
  }

  toScreen([x, y]) {
    const s = 256 * 2 ** this.z;
    return [(x - this.center[0]) * s + this.width / 2, (y - this.center[1]) * s + this.height / 2];
  }

  zoomBy(dz, at = null) {
    const nz = Math.max(MIN_Z, Math.min(MAX_Z, this.z + dz));
    if (at) {
      // Keep the world point under the cursor fixed.
      const s0 = 256 * 2 ** this.z;
      const s1 = 256 * 2 ** nz;
      const wx = this.center[0] + (at[0] - this.width / 2) / s0;
      const wy = this.center[1] + (at[1] - this.height / 2) / s0;
      this.center = [wx - (at[0] - this.width / 2) / s1, wy - (at[1] - this.height / 2) / s1];
    }
    this.z = nz;
    this.redraw(true);
  }

  resize() {
    const r = this.container.getBoundingClientRect();
    this.width = Math.max(1, r.width);
    this.height = Math.max(1, r.height);
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.width * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    this.redraw();
  }

  /** Schedule a repaint; `moved` also tells the view listener (debounced by the caller). */
  redraw(moved = false) {
    if (moved && this.onViewChange) this.onViewChange(this.viewBounds(), this.z);
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.draw());
  }

  draw() {
    const ctx = this.canvas.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = cssVar("--bg") || "#0d1520";
    ctx.fillRect(0, 0, this.width, this.height);
    if (this.tileUrl) this.drawTiles(ctx);
    this.drawGrid(ctx);
    const drawnSites = this.drawSites(ctx);
    this.drawPoints(ctx);
    const drawnCams = this.drawCameras(ctx);
    this.canvas.dataset.cameras = String(drawnCams);
    this.canvas.dataset.sites = String(drawnSites);
    this.canvas.dataset.zoom = this.z.toFixed(2);
    this.canvas.dataset.highlight = this.highlight || "";
    this.drawScale();
  }

  drawGrid(ctx) {
    // A faint graticule so an empty map still shows it is a map.
    const [lon0, lat0, lon1, lat1] = this.viewBounds();
    const span = Math.max(lon1 - lon0, 1e-6);
    const step = 10 ** Math.floor(Math.log10(span / 3));
    ctx.strokeStyle = cssVar("--line") || "#25384f";
    ctx.globalAlpha = 0.45;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let lon = Math.ceil(lon0 / step) * step; lon <= lon1; lon += step) {
      const [x] = this.toScreen(project(lon, 0));
      ctx.moveTo(x, 0); ctx.lineTo(x, this.height);
    }
    for (let lat = Math.ceil(lat0 / step) * step; lat <= lat1; lat += step) {
      const [, y] = this.toScreen(project(0, lat));
      ctx.moveTo(0, y); ctx.lineTo(this.width, y);
    }
    ctx.stroke();
    ctx.globalAlpha = 1;
  }

  drawSites(ctx) {
    let n = 0;
    const labels = this.z >= 15;
    ctx.font = `12px ${cssVar("--font") || "sans-serif"}`;
    for (const s of this.sites) {
      const color = SITE_COLORS[s.protection_class] || SITE_COLORS[3];
      ctx.beginPath();
      for (const ring of s.rings) {
        ring.forEach((p, i) => {
          const [x, y] = this.toScreen(p);
          if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        });
        ctx.closePath();
      }
      for (const p of s.pts) {
        const [x, y] = this.toScreen(p);
        ctx.rect(x - 4, y - 4, 8, 8);
      }
      ctx.fillStyle = color;
      ctx.globalAlpha = 0.16;
      ctx.fill("evenodd");
      ctx.globalAlpha = 0.85;
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.4;
      ctx.stroke();
      ctx.globalAlpha = 1;
      n += 1;
      if (labels && s.name) this.siteLabel(ctx, s);
    }
    return n;
  }

  siteLabel(ctx, s) {
    const pts = s.rings[0] || s.pts;
    if (!pts?.length) return;
    let sx = 0; let sy = 0;
    for (const p of pts) { sx += p[0]; sy += p[1]; }
    const [x, y] = this.toScreen([sx / pts.length, sy / pts.length]);
    ctx.fillStyle = cssVar("--muted") || "#8ea3bb";
    ctx.textAlign = "center";
    ctx.fillText(s.name, x, y);
    ctx.textAlign = "start";
  }

  drawPoints(ctx) {
    // Small dots (e.g. a plan's target points), coloured by their own `color`.
    const r = this.z >= 17 ? 2.2 : 1.4;
    for (const p of this.points) {
      const [x, y] = this.toScreen(p.w);
      if (x < 0 || y < 0 || x > this.width || y > this.height) continue;
      ctx.fillStyle = p.color;
      ctx.fillRect(x - r, y - r, 2 * r, 2 * r);
    }
    this.canvas.dataset.points = String(this.points.length);
  }

  drawCameras(ctx) {
    const n = this.cameras.length;
    if (this.screen.length !== n * 2) this.screen = new Float32Array(n * 2);
    const r = this.z >= 16 ? 5.5 : this.z >= 13 ? 4 : 2.6;
    const showWedges = this.wedges || this.z >= 17;
    let drawn = 0;
    for (let i = 0; i < n; i += 1) {
      const c = this.cameras[i];
      const [x, y] = this.toScreen(c.w);
      this.screen[2 * i] = x;
      this.screen[2 * i + 1] = y;
      if (x < -20 || y < -20 || x > this.width + 20 || y > this.height + 20) continue;
      if (showWedges && Number.isFinite(c.heading_deg)) this.wedge(ctx, x, y, c);
      ctx.beginPath();
      ctx.arc(x, y, c.id === this.highlight ? r + 3 : r, 0, Math.PI * 2);
      ctx.fillStyle = c.color;
      ctx.fill();
      if (r > 3 || c.id === this.highlight) {
        ctx.lineWidth = c.id === this.highlight ? 2.5 : 1;
        ctx.strokeStyle = c.id === this.highlight ? "#ffffff" : "rgba(0,0,0,.55)";
        ctx.stroke();
      }
      drawn += 1;
    }
    if (this.z >= 18.5) this.cameraLabels(ctx);
    return drawn;
  }

  cameraLabels(ctx) {
    ctx.font = `11px ${cssVar("--font") || "sans-serif"}`;
    ctx.fillStyle = cssVar("--text") || "#e3ebf5";
    for (let i = 0; i < this.cameras.length; i += 1) {
      const x = this.screen[2 * i];
      const y = this.screen[2 * i + 1];
      if (x < 0 || y < 0 || x > this.width || y > this.height) continue;
      ctx.fillText(this.cameras[i].name || "", x + 8, y - 6);
    }
  }

  wedge(ctx, x, y, c) {
    // Heading 0 = north, clockwise. With a range and field of view (plans) the fan is to scale;
    // otherwise a 60° hint of the view direction.
    const lat = unproject(...c.w)[1];
    const toScale = Number.isFinite(c.range_m) && Number.isFinite(c.hfov_deg);
    const len = toScale ? c.range_m / metresPerPixel(lat, this.z) : 28;
    const half = ((toScale ? c.hfov_deg : 60) * Math.PI) / 360;
    const a = ((c.heading_deg - 90) * Math.PI) / 180;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.arc(x, y, len, a - half, a + half);
    ctx.closePath();
    ctx.fillStyle = c.color;
    ctx.globalAlpha = toScale ? 0.16 : 0.22;
    ctx.fill();
    ctx.globalAlpha = 1;
  }

  drawTiles(ctx) {
    const tz = Math.max(0, Math.min(19, Math.round(this.z)));
    const n = 2 ** tz;
    const s = 256 * 2 ** this.z;
    const size = s / n;
    const [cx, cy] = this.center;
    const x0 = Math.floor((cx - this.width / 2 / s) * n);
    const x1 = Math.floor((cx + this.width / 2 / s) * n);
    const y0 = Math.max(0, Math.floor((cy - this.height / 2 / s) * n));
    const y1 = Math.min(n - 1, Math.floor((cy + this.height / 2 / s) * n));
    for (let tx = x0; tx <= x1; tx += 1) {
      for (let ty = y0; ty <= y1; ty += 1) {
        const img = this.tile(tz, ((tx % n) + n) % n, ty);
        if (!img.complete || !img.naturalWidth) continue;
        const [sx, sy] = this.toScreen([tx / n, ty / n]);
        ctx.drawImage(img, sx, sy, size + 0.5, size + 0.5);
      }
    }
  }

  tile(z, x, y) {
    const key = `${z}/${x}/${y}`;
    let img = this.tiles.get(key);
    if (!img) {
      img = new Image();
      img.onload = () => this.redraw();
      img.src = this.tileUrl.replace("{z}", z).replace("{x}", x).replace("{y}", y);
      this.tiles.set(key, img);
      if (this.tiles.size > 512) this.tiles.delete(this.tiles.keys().next().value);
    }
    return img;
  }

  drawScale() {
    const lat = unproject(...this.center)[1];
    const mpp = metresPerPixel(lat, this.z);
    const target = mpp * 100;
    const nice = 10 ** Math.floor(Math.log10(target));
    const m = [5, 2, 1].map((k) => k * nice).find((v) => v <= target) || nice;
    this.scale.textContent = `${m >= 1000 ? `${m / 1000} km` : `${m} m`} ≈ ${Math.round(m / mpp)} px`;
  }

  /** The site whose polygon contains screen point (x, y), or null (even-odd rule over all rings). */
  siteAt(x, y) {
    for (let i = this.sites.length - 1; i >= 0; i -= 1) {
      const s = this.sites[i];
      let inside = false;
      for (const ring of s.rings) {
        const pts = ring.map((p) => this.toScreen(p));
        for (let a = 0, b = pts.length - 1; a < pts.length; b = a, a += 1) {
          const [xa, ya] = pts[a];
          const [xb, yb] = pts[b];
          if ((ya > y) !== (yb > y) && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) inside = !inside;
        }
      }
      if (inside) return s;
    }
    return null;
  }

  /** The camera nearest to screen point (x, y) within a few pixels, or null. */
  hit(x, y) {
    let best = null;
    let bestD = HIT_PX * HIT_PX;
    for (let i = 0; i < this.cameras.length; i += 1) {
      const dx = this.screen[2 * i] - x;
      const dy = this.screen[2 * i + 1] - y;
      const d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = this.cameras[i]; }
    }
    return best;
  }

  bindEvents() {
    const cv = this.canvas;
    let drag = null;
    const local = (ev) => {
      const r = cv.getBoundingClientRect();
      return [ev.clientX - r.left, ev.clientY - r.top];
    };
    cv.addEventListener("pointerdown", (ev) => {
      drag = { start: local(ev), center: [...this.center], moved: false };
      cv.setPointerCapture(ev.pointerId);
    });
    cv.addEventListener("pointermove", (ev) => {
      const p = local(ev);
      if (drag) {
        const dx = p[0] - drag.start[0];
        const dy = p[1] - drag.start[1];
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        if (drag.moved) {
          cv.classList.add("dragging");
          const s = 256 * 2 ** this.z;
          this.center = [drag.center[0] - dx / s, drag.center[1] - dy / s];
          this.tip.hidden = true;
          this.redraw(true);
        }
        return;
      }
      this.hover(p);
    });
    cv.addEventListener("pointerup", (ev) => {
      const wasClick = drag && !drag.moved;
      drag = null;
      cv.classList.remove("dragging");
      if (wasClick) {
        const at = local(ev);
        const c = this.hit(...at);
        if (c && this.onCameraClick) this.onCameraClick(c);
        else if (!c && this.onSiteClick) {
          const s = this.siteAt(...at);
          if (s) this.onSiteClick(s, at);
        }
      }
    });
    cv.addEventListener("pointerleave", () => { this.tip.hidden = true; });
    cv.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      this.zoomBy(ev.deltaY < 0 ? 0.5 : -0.5, local(ev));
    }, { passive: false });
    cv.addEventListener("dblclick", (ev) => this.zoomBy(1, local(ev)));
  }

  hover(p) {
    const c = this.hit(...p);
    this.canvas.style.cursor = c ? "pointer" : "";
    if (!c) {
      this.tip.hidden = true;
      return;
    }
    const s = statusInfo(c.status);
    this.tip.replaceChildren(h("strong", { lang: "zh" }, c.name), h("br"),
      h("span", { class: "muted mono" }, c.id), h("br"), `${c.lifecycle || ""} · ${s.state}`);
    this.tip.style.left = `${p[0]}px`;
    this.tip.style.top = `${p[1]}px`;
    this.tip.hidden = false;
  }
}
