// GB/T 28181: the devices that register to this instance, a device's channel tree, and the cascade links
// to upper platforms. Read-only; the passwords never leave the server.
import { api } from "../api.js";
import { h, message, mount } from "../dom.js";
import { duration, label, num, when } from "../labels.js";
import { regionNames } from "../regions.js";
import { table } from "../widgets.js";
import { t } from "../i18n.js";

export const regionAware = true;

const CHANNEL_KINDS = { camera: "Camera", directory: "Directory" };

/** "3 min ago" for an ISO time, "—" for none. */
export function ago(iso, now = Date.now()) {
  return iso ? t("{{when}} ago", { when: duration(Math.max(0, (now - new Date(iso)) / 1000)) }) : "—";
}

function stateBadge(on, onText, offText) {
  return h("span", { class: `badge ${on ? "ok" : "bad"}`, dataset: { state: on ? "on" : "off" } },
    t(on ? onText : offText));
}

/** A device is registered while it is online and its registration has not expired. */
function registered(d, now) {
  return d.online && (!d.expires_at || new Date(d.expires_at) > now);
}

function expiry(d, now) {
  if (!d.expires_at) return "—";
  const left = (new Date(d.expires_at) - now) / 1000;
  return h("span", { title: when(d.expires_at) }, left > 0 ? t("in {{when}}", { when: duration(left) })
    : h("span", { class: "error" }, t("expired {{when}}", { when: ago(d.expires_at, now) })));
}

function devicesTable(devices, names, selected, ctx) {
  const now = Date.now();
  return table([
    ["Device ID", (d) => h("a", { href: ctx.hashFor("gb", { region: ctx.region }, d.id), class: "mono" }, d.id)],
    ["Name", (d) => h("span", { lang: "zh" }, d.name)],
    ["Region", (d) => h("span", { lang: "zh", title: d.region_code || "" }, names.get(d.region_code) || d.region_code || "—")],
    ["Registration", (d) => stateBadge(registered(d, new Date(now)), "online", "offline")],
    ["Registered", (d) => when(d.registered_at)],
    ["Expires", (d) => expiry(d, new Date(now))],
    ["Last keepalive", (d) => h("span", { title: when(d.last_seen) }, ago(d.last_seen, now))],
    ["Transport", (d) => d.transport || "—"],
    ["Source address", (d) => h("span", { class: "mono" }, d.host ? `${d.host}:${d.port}` : "—")],
    ["Channels", (d) => num(d.channel_count), "num"],
    ["Make and model", (d) => [d.manufacturer, d.model, d.firmware].filter(Boolean).join(" · ") || "—"],
  ], devices, { cls: "gb-devices", empty: "No GB/T 28181 device in your regions.",
    rowAttrs: (d) => ({ dataset: { id: d.id }, class: d.id === selected ? "selected" : null }) });
}

/** Channels in tree order (each under its parent), with their depth. */
export function treeOrder(channels, deviceId) {
  const byParent = new Map();
  const ids = new Set(channels.map((c) => c.channel_id));
  for (const c of channels) {
    const parent = c.parent_id && c.parent_id !== deviceId && ids.has(c.parent_id) ? c.parent_id : "";
    if (!byParent.has(parent)) byParent.set(parent, []);
    byParent.get(parent).push(c);
  }
  const out = [];
  const seen = new Set();
  const walk = (parent, depth) => {
    for (const c of byParent.get(parent) || []) {
      if (seen.has(c.channel_id)) continue; // a loop in a device's catalog
      seen.add(c.channel_id);
      out.push([c, depth]);
      walk(c.channel_id, depth + 1);
    }
  };
  walk("", 0);
  return out;
}

function channelsSection(device, channels, ctx) {
  const rows = treeOrder(channels, device.id);
  const status = (c) => (c.kind === "directory" ? "—" : c.status
    ? h("span", { class: `badge ${c.status === "ON" ? "ok" : "bad"}` }, t(c.status === "ON" ? "online" : "offline"))
    : "—");
  return h("section", { id: "gb-channels", dataset: { device: device.id } },
    h("h2", { class: "section-title" }, t("Channels of {{name}}", { name: device.name }), " ",
      h("span", { class: "badge info" }, num(channels.length))),
    table([
      ["Channel ID", ([c, depth]) => h("span", { class: "mono", style: { paddingLeft: `${depth * 1.2}em` } },
        depth ? "└ " : "", c.channel_id)],
      ["Name", ([c]) => h("span", { lang: "zh" }, c.name)],
      ["Kind", ([c]) => label(CHANNEL_KINDS, c.kind)],
      ["Status", ([c]) => status(c)],
      ["Civil code", ([c]) => h("span", { class: "mono" }, c.civil_code || "—")],
      ["Camera", ([c]) => (c.camera_id ? h("a", { href: ctx.hashFor("camera", {}, c.camera_id), class: "mono" },
        t("camera page →")) : "—")],
      ["Updated", ([c]) => when(c.updated_at)],
    ], rows, { cls: "gb-channels", empty: "This device has reported no catalog yet.",
      rowAttrs: ([c]) => ({ dataset: { id: c.channel_id, kind: c.kind } }) }));
}

function rulesText(rules) {
  const parts = Object.entries(rules || {}).filter(([, v]) => (Array.isArray(v) ? v.length : v !== null && v !== ""
    && v !== false));
  return parts.length ? parts.map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : v}`).join("; ") : t("everything");
}

function uppersSection(uppers) {
  const now = Date.now();
  return h("section", { id: "gb-uppers" },
    h("h2", { class: "section-title" }, t("Cascade to upper platforms")),
    table([
      ["Upper platform", (u) => h("span", { class: "mono" }, u.id)],
      ["Address", (u) => h("span", { class: "mono" }, `${u.host}:${u.port}`)],
      ["Registers as", (u) => h("span", { class: "mono" }, u.local_id)],
      ["Registration", (u) => (u.enabled ? stateBadge(u.registered, "registered", "not registered")
        : h("span", { class: "badge muted" }, t("disabled")))],
      ["Registered", (u) => when(u.registered_at)],
      ["Last keepalive", (u) => h("span", { title: when(u.last_keepalive) }, ago(u.last_keepalive, now))],
      ["Shared channels", (u) => num(u.shared_channels), "num"],
      ["Sharing rules", (u) => rulesText(u.rules)],
      ["Last error", (u) => (u.last_error ? h("span", { class: "error" }, u.last_error) : "—")],
    ], uppers, { cls: "gb-uppers", empty: "No upper platform shares only regions of yours.",
      rowAttrs: (u) => ({ dataset: { id: u.id } }) }));
}

const DIRECTIONS = { parent: "to the parent", child: "from a child" };

/** The Vigil-to-Vigil federation links: sharing rules and health (last contact, lag, errors). */
function linksSection(links) {
  const now = Date.now();
  const body = Array.isArray(links) ? table([
    ["Link", (l) => h("span", { class: "mono" }, l.name)],
    ["Direction", (l) => label(DIRECTIONS, l.direction)],
    ["Region", (l) => h("span", { class: "mono" }, l.region_code || "—")],
    ["Sharing rules", (l) => rulesText(l.rules)],
    ["Last contact", (l) => h("span", { title: when(l.last_contact) }, ago(l.last_contact, now))],
    ["Lag (changes)", (l) => num(l.lag), "num"],
    ["Errors", (l) => (l.errors ? h("span", { class: "error" }, num(l.errors)) : num(0)), "num"],
    ["Last error", (l) => (l.last_error ? h("span", { class: "error" }, l.last_error) : "—")],
    ["Remote cameras", (l) => num(l.cameras), "num"],
  ], links, { cls: "fed-links", empty: "No Vigil link in your regions.",
    rowAttrs: (l) => ({ dataset: { name: l.name, direction: l.direction } }) })
    : message(t("Could not load the Vigil links: {{error}}", { error: links.message }), "error");
  return h("section", { id: "fed-links" }, h("h2", { class: "section-title" }, t("Vigil links (federation)")), body);
}

/** Render the GB/T 28181 page; `route.arg` names the device whose channels are shown. */
export async function render(el, route, ctx) {
  const region = route.params.get("region") || "";
  const view = { ...ctx, region };
  mount(el, h("div", { class: "view-head" }, h("h1", {}, t("GB/T 28181 devices"))), message(t("Loading…")));
  let devices;
  let uppers;
  let links;
  try {
    [devices, uppers, links] = await Promise.all([api("/gb/devices"), api("/gb/uppers"),
      api("/federation/links").catch((e) => e)]);
  } catch (e) {
    mount(el, h("h1", {}, t("GB/T 28181 devices")), message(t("Could not load GB/T 28181 devices: {{error}}",
      { error: e.message }), "error"));
    return null;
  }
  const shown = devices.filter((d) => !region || (d.region_code || "").startsWith(region));
  const names = await regionNames(shown.map((d) => d.region_code).filter(Boolean));
  const selected = route.arg && shown.find((d) => d.id === route.arg);
  let channels = null;
  if (selected) {
    channels = await api(`/gb/devices/${encodeURIComponent(selected.id)}/channels`).catch((e) =>
      message(t("Could not load the channels: {{error}}", { error: e.message }), "error"));
  }
  const online = shown.filter((d) => registered(d, new Date())).length;
  mount(el,
    h("div", { class: "view-head" }, h("h1", {}, t("GB/T 28181 devices")),
      h("span", { class: "muted", id: "gb-summary" }, t("{{online}} of {{n}} online", { online: num(online),
        n: num(shown.length) }))),
    devicesTable(shown, names, selected?.id, view),
    selected ? Array.isArray(channels) ? channelsSection(selected, channels, view) : channels
      : shown.length ? message(t("Pick a device to see its channels.")) : null,
    uppersSection(uppers),
    linksSection(links));
  return null;
}
