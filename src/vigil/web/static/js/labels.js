// Human labels and colours for the registry's enums, and value formatting. The tables hold English text,
// which is the i18n key: label() and options() translate it when it is shown.
import { formatDateTime, formatNumber, t } from "./i18n.js";

export const KINDS = {
  community_entrance: "Community entrance",
  gas_station: "Gas station",
  key_site: "Key site",
  public_area: "Public area",
  high_point: "High point",
  micro_checkpoint: "Micro-checkpoint",
  traffic_checkpoint: "Traffic checkpoint",
  other: "Other",
};

export const LIFECYCLES = {
  planned: "Planned",
  installed: "Installed",
  in_service: "In service",
  retired: "Retired",
};

export const OWNERS = {
  public_security: "Public security",
  traffic: "Traffic police",
  town: "Town",
  project: "Project",
  city_management: "City management",
};

export const SITE_KINDS = {
  residential: "Residential community",
  village: "Village",
  school: "School",
  hospital: "Hospital",
  station: "Station",
  square: "Square",
  gas_station: "Gas station",
  crossroads: "Crossroads",
  government: "Government",
  other: "Other",
};

export const ROLES = {
  admin: "Administrator",
  duty_officer: "Duty officer",
  investigator: "Investigator",
  maintenance: "Maintenance",
  auditor: "Auditor",
  planner: "Planner",
};

export const LEVELS = { 1: "Prefecture", 2: "City", 3: "Town", 4: "Village" };

/** Marker colours by lifecycle (used when no live status is known). */
export const LIFECYCLE_COLORS = {
  planned: "#9b8cff",
  installed: "#f5b341",
  in_service: "#4cc2ff",
  retired: "#6b7a8c",
};

/** Marker colours by online state. */
export const STATE_COLORS = { online: "#3ecf8e", down: "#ff5d5d", unknown: "#8ea3bb" };

/** A palette for charts (readable on dark and light). */
export const PALETTE = ["#4cc2ff", "#3ecf8e", "#f5b341", "#ff7a7a", "#9b8cff", "#4de0d0", "#ff9f5a",
  "#c7d36b", "#e08cff", "#7fa7ff"];

/** The label for an enum value, falling back to the value itself made readable. */
export function label(table, value) {
  if (value === null || value === undefined || value === "") return "—";
  return table[value] ? t(table[value]) : t(String(value).replaceAll("_", " "));
}

/** [value, translated label] pairs of a table, for a <select>. */
export function options(table) {
  return Object.entries(table).map(([k, v]) => [k, t(v)]);
}

/** `status` may be null, a state string, or an object with `state`/`reason`/`since`. */
export function statusInfo(status) {
  if (!status) return { state: "unknown", reason: "", since: null, faults: [] };
  if (typeof status === "string") return { state: status, reason: "", since: null, faults: [] };
  return {
    state: status.state || "unknown", reason: status.reason || "", since: status.since || null,
    faults: status.faults || [], ms: status.last_ms ?? status.ms ?? null,
    lastProbe: status.last_probe_at || null,
  };
}

/** 20547 → "20,547". */
export function num(n) {
  return n === null || n === undefined || n === "" ? "—" : typeof n === "number" ? formatNumber(n) : t(String(n));
}

/** 0.9731 → "97.3 %". */
export function pct(x, digits = 1) {
  if (x === null || x === undefined || Number.isNaN(x)) return "—";
  return `${formatNumber(x * 100, { minimumFractionDigits: digits, maximumFractionDigits: digits })} %`;
}

/** An ISO timestamp in the instance's time zone, "2026-11-27 22:31" (zh-CN: "2026/11/27 22:31"). */
export function when(iso) {
  return iso ? formatDateTime(iso) : "—";
}

/** A duration in seconds as "3 h 12 min". */
export function duration(s) {
  if (s === null || s === undefined) return "—";
  if (s < 60) return t("{{n}} s", { n: Math.round(s) });
  if (s < 3600) return t("{{n}} min", { n: Math.round(s / 60) });
  const hrs = Math.floor(s / 3600);
  return hrs >= 48 ? t("{{n}} d", { n: formatNumber(s / 86400, { maximumFractionDigits: 1 }) })
    : t("{{h}} h {{m}} min", { h: hrs, m: Math.round((s % 3600) / 60) });
}

/** Coordinates "102.712345, 25.043210". */
export function coord(lon, lat) {
  if (lon === null || lon === undefined) return "—";
  return `${Number(lon).toFixed(6)}, ${Number(lat).toFixed(6)}`;
}
