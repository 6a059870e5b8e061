// The camera detail page: every field, its live status, a small map, and links to live view and events.
import { api, apiOptional, hasApi } from "../api.js";
import { h, message, mount } from "../dom.js";
import { KINDS, LEVELS, OWNERS, coord, duration, label, statusInfo, when } from "../labels.js";
import { GlMap } from "../mapgl.js";
import { consoleConfig, loadCameraPoints } from "../geo.js";
import { regionName } from "../regions.js";
import { lifecycleBadge, remoteBadge, remoteOf, statusBadge } from "./cameras.js";
import { cameraHealth } from "./camera_health.js";
import { editForm } from "./camera_edit.js";
import { cameraAnalytics } from "./camera_analytics.js";
import { t } from "../i18n.js";

const SHOWN = new Set(["id", "name", "region_code", "site_id", "lon", "lat", "height_m", "heading_deg", "tilt_deg",
  "model", "kind", "owner", "lifecycle", "main_url", "sub_url", "status", "site", "region", "username",
  "onvif_url", "created_at", "updated_at", "model_id", "has_password"]);

function fields(pairs) {
  return h("dl", { class: "fields" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, t(k)),
    h("dd", { dataset: { field: k } }, v ?? "—")]));
}

function deg(v, unit = "°") {
  return v === null || v === undefined ? "—" : `${Number(v).toFixed(1)}${unit}`;
}

/** GB/T 28181 ID parts: centre code (8), industry (2), type (3), network (1), serial (6). */
function idParts(id) {
  if (!/^\d{20}$/.test(id)) return null;
  return { centre: id.slice(0, 8), industry: id.slice(8, 10), type: id.slice(10, 13), network: id.slice(13, 14),
    serial: id.slice(14) };
}

function statusCard(c) {
  const s = statusInfo(c.status);
  return h("section", { class: "card" }, h("h2", {}, t("Status")), fields([
    ["State", statusBadge(c.status)],
    s.reason ? ["Reason", s.reason] : null,
    ["Since", when(s.since)],
    ["Last probe", when(s.lastProbe)],
    s.ms !== null && s.ms !== undefined ? ["Answer time", t("{{n}} ms", { n: Math.round(s.ms) })] : null,
    ["Picture faults", s.faults.length ? s.faults.map((f) => t(f)).join(", ") : t("none")],
  ]), c.status ? null : message(t("No probe result yet for this camera.")));
}

/** Where a remote camera comes from (federation): the instance that owns it, its level, the data's age. */
function remoteCard(r) {
  if (!r) return null;
  const level = r.link_region ? { 4: 1, 6: 2, 8: 3 }[r.link_region.length] || 4 : null;
  return h("section", { class: "card", id: "camera-remote" }, h("h2", {}, t("Remote camera")), fields([
    ["Source instance", h("span", { class: "mono", id: "camera-origin" }, r.origin)],
    ["Link", r.link],
    ["Child level", r.link_region ? `${label(LEVELS, level)} · ${r.link_region}` : "—"],
    ["Data age", h("span", { id: "camera-age" }, r.age_s === null || r.age_s === undefined ? t("never")
      : duration(r.age_s))],
    ["Last contact", when(r.last_contact)],
  ]), message(t("Its video is proxied through the instance that owns it.")));
}

function modelText(m) {
  if (!m) return "—";
  if (typeof m === "string") return m;
  const optics = m.h_res_px ? ` · ${m.h_res_px}×${m.v_res_px} px, HFOV ${deg(m.hfov_deg)}` : "";
  return `${m.vendor ? `${m.vendor} ` : ""}${m.name}${optics}`;
}

function extraFields(c) {
  const rest = Object.entries(c).filter(([k]) => !SHOWN.has(k));
  if (!rest.length) return null;
  return h("section", { class: "card" }, h("h2", {}, t("Other fields")),
    fields(rest.map(([k, v]) => [k.replaceAll("_", " "), typeof v === "object" && v !== null
      ? JSON.stringify(v) : String(v ?? "—")])));
}

async function miniMap(slot, c, site) {
  const config = await consoleConfig();
  const map = new GlMap(slot, { tileUrl: config.tile_url || null, wedges: true });
  map.start();
  map.highlight = c.id;
  const d = 0.004;
  const bbox = [c.lon - d, c.lat - d, c.lon + d, c.lat + d];
  map.setData({ cameras: [c], sites: site?.geometry ? [site] : [] });
  map.fitBounds(bbox);
  loadCameraPoints(null, { bbox, limit: 500 }).then((res) => {
    const others = res.cameras.filter((o) => o.id !== c.id);
    map.setData({ cameras: [...others, c] });
  }).catch(() => {});
  return map;
}

/** Render the detail page of camera `route.arg`. */
export async function render(el, route, ctx) {
  const id = route.arg;
  let c;
  try {
    c = await api(`/cameras/${encodeURIComponent(id)}`);
  } catch (e) {
    mount(el, h("h1", {}, t("Camera")), message(e.status === 404 ? t("No camera {{id}} (or it is outside your regions).", { id })
      : t("Could not load camera {{id}}: {{error}}", { id, error: e.message }), "error"),
    h("a", { href: "#/cameras" }, t("← Back to cameras")));
    return null;
  }
  const [rName, site, withEvents, withVideo, remote] = await Promise.all([
    regionName(c.region_code),
    c.site && typeof c.site === "object" ? c.site : c.site_id ? apiOptional(`/sites/${c.site_id}`) : null,
    hasApi("/api/v1/events"), hasApi("/api/v1/video/retrievals"),
    remoteOf([c.id]).then((m) => m.get(c.id) || null).catch(() => null),
  ]);
  const parts = idParts(c.id);
  const mapSlot = h("div", { class: "map-wrap small", id: "camera-map" });
  const healthSlot = h("div", { id: "camera-health" });
  const analyticsSlot = h("div", {});
  const editSlot = h("div", {});
  // a remote camera is edited on the instance that owns it (its feed would overwrite a change made here)
  const edit = ctx.user.role === "admin" && !remote ? h("button", { type: "button", id: "camera-edit-btn" }, t("Edit"))
    : null;
  edit?.addEventListener("click", () => {
    edit.hidden = true;
    mount(editSlot, editForm(c, () => ctx.navigate("camera", {}, c.id, { replace: true }), () => {
      mount(editSlot);
      edit.hidden = false;
    }));
  });
  mount(el,
    h("div", { class: "view-head" }, h("a", { href: "#/cameras", class: "crumbs" }, t("← Cameras")),
      h("h1", { lang: "zh", id: "camera-name" }, c.name), lifecycleBadge(c.lifecycle), statusBadge(c.status),
      remoteBadge(remote)),
    h("div", { class: "actions" },
      statusInfo(c.status).state === "down"  // no live view of a camera that does not answer
        ? h("span", { class: "badge bad", id: "live-down" }, t("camera down: no live view"))
        : h("a", { class: "button-link", id: "live-link",
          href: `live.html?camera=${encodeURIComponent(c.id)}${remote ? "&remote=1" : ""}` },
          t("▶ Live view")),
      h("a", { class: "button-link secondary", href: ctx.hashFor("map", { region: c.region_code }) },
        t("Region map")),
      c.site_id ? h("a", { class: "button-link secondary", href: ctx.hashFor("cameras", { site: c.site_id }) },
        t("Cameras of this site")) : null,
      withVideo ? h("a", { class: "button-link secondary", id: "recordings-link",
        href: ctx.hashFor("recordings", { camera: c.id }) }, t("Recordings")) : null,
      withEvents ? h("a", { class: "button-link secondary", href: ctx.hashFor("events", { camera: c.id }) },
        t("Events")) : null,
      withVideo && c.lifecycle === "in_service" && ["admin", "duty_officer"].includes(ctx.user.role)
        ? h("a", { class: "button-link secondary", id: "zones-link", href: ctx.hashFor("zones", {}, c.id) },
          t("Zones and masks")) : null, edit),
    editSlot,
    h("div", { class: "grid cols-2" },
      h("section", { class: "card" }, h("h2", {}, t("Identity")), fields([
        ["ID", h("span", { class: "mono", id: "camera-id" }, c.id)],
        parts ? ["ID parts", h("span", { class: "mono" },
          t("centre {{centre}} · type {{type}} · network {{network}} · serial {{serial}}", parts))] : null,
        ["Name", h("span", { lang: "zh" }, c.name)],
        ["Kind", label(KINDS, c.kind)], ["Owner", label(OWNERS, c.owner)],
        ["Lifecycle", lifecycleBadge(c.lifecycle)], ["Model", modelText(c.model)],
      ])),
      statusCard(c), remoteCard(remote),
      h("section", { class: "card" }, h("h2", {}, t("Location")), fields([
        ["Region", h("span", { lang: "zh" }, rName ? `${rName} (${c.region_code})` : c.region_code)],
        ["Site", site ? h("span", { lang: "zh" }, `${site.name}${site.protection_class
          ? ` · ${t("class {{n}}", { n: site.protection_class })}` : ""}`) : c.site_id ?? "—"],
        ["Lon, lat", h("span", { class: "mono" }, coord(c.lon, c.lat))],
        ["Mounting height", deg(c.height_m, " m")], ["Heading", t("{{deg}} (0° = north)", { deg: deg(c.heading_deg) })],
        ["Tilt", deg(c.tilt_deg)],
      ]), mapSlot),
      h("section", { class: "card" }, h("h2", {}, t("Streams")), fields([
        ["Main stream", h("span", { class: "mono" }, c.main_url || "—")],
        ["Sub stream", h("span", { class: "mono" }, c.sub_url || "—")],
        c.onvif_url !== undefined ? ["ONVIF", h("span", { class: "mono" }, c.onvif_url || "—")] : null,
        c.username !== undefined ? ["User name", c.username || "—"] : null,
        c.created_at ? ["Created", when(c.created_at)] : null,
        c.updated_at ? ["Updated", when(c.updated_at)] : null,
      ])),
      analyticsSlot, extraFields(c)),
    h("div", { class: "grid" }, healthSlot));
  cameraAnalytics(analyticsSlot, c.id, ctx).catch((e) => mount(analyticsSlot, message(t("Analytics: {{error}}", { error: e.message }),
    "error")));
  cameraHealth(healthSlot, c.id).catch((e) => mount(healthSlot, message(t("Health history: {{error}}", { error: e.message }),
    "error")));
  document.title = `${c.name} · Vigil`;
  const map = Number.isFinite(c.lon) ? await miniMap(mapSlot, c, site) : null;
  return {
    destroy() {
      map?.destroy();
      document.title = t("Vigil console");
    },
  };
}
