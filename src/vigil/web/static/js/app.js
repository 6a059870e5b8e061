// The console shell: checks the session, draws the nav and region tree, routes #/view?params to views.
import { api, hasApi, logout, setUnauthorizedHandler } from "./api.js";
import { consoleConfig } from "./geo.js";
import { initI18n, lang, pickLanguage, rememberLanguage, setTimeZone, t } from "./i18n.js";
import { languageSwitch } from "./langswitch.js";
import { h, message, mount, toast } from "./dom.js";
import { ROLES, label } from "./labels.js";
import { applyTheme, toggleTheme } from "./theme.js";
import { RegionTree } from "./tree.js";
import * as audit from "./views/audit.js";
import * as cameras from "./views/cameras.js";
import * as camera from "./views/camera.js";
import * as dashboard from "./views/dashboard.js";
import * as events from "./views/events.js";
import * as gb from "./views/gb.js";
import * as map from "./views/map.js";
import * as plans from "./views/plans.js";
import * as cityPlan from "./views/city_plan.js";
import * as recordings from "./views/recordings.js";
import * as alarms from "./views/alarms.js";
import * as down from "./views/down.js";
import * as users from "./views/users.js";
import * as wall from "./views/wall.js";
import * as zones from "./views/zones.js";
import * as workorders from "./views/workorders.js";

applyTheme();

// name → [module, nav label, API prefix that must exist (null: always), roles that may use it (null: all)]
const ROUTES = {
  cameras: [cameras, "Cameras", null, null],
  map: [map, "Map", null, null],
  dashboard: [dashboard, "Dashboard", null, null],
  workorders: [workorders, "Work orders", "/api/v1/health/workorders", null],
  alarms: [alarms, "Alarms", "/api/v1/health/alarms", null],
  down: [down, "Cameras down", "/api/v1/health/status", null],
  events: [events, "Events", "/api/v1/events", null],
  wall: [wall, "Video wall", "/api/v1/video/walls", ["admin", "duty_officer", "investigator"]],
  gb: [gb, "GB/T 28181", "/api/v1/gb/devices", null],
  recordings: [recordings, "Recordings", "/api/v1/video/retrievals", ["admin", "duty_officer", "investigator"]],
  plans: [plans, "Plans", "/api/v1/plans", ["admin", "planner"]],
  city_plan: [cityPlan, "City budget", "/api/v1/city-plans", ["admin", "planner"]],
  audit: [audit, "Audit", "/api/v1/audit", ["admin", "auditor"]],
  users: [users, "Users", "/api/v1/users", ["admin"]],
  camera: [camera, null, null, null],
  zones: [zones, null, "/api/v1/video/snapshots", null],
};
const DEFAULT = "cameras";
// where a role lands when the address names no page: the maintenance engineer starts at the work-order queue
const LANDING = { maintenance: "workorders" };

const state = { user: null, route: null, view: null, tree: null };

/** Parse location.hash: "#/camera/ID?x=1" → {name, arg, params}. */
export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const [name, ...rest] = path.split("/");
  return {
    name: ROUTES[name] ? name : LANDING[state.user?.role] || DEFAULT,
    arg: rest.length ? decodeURIComponent(rest.join("/")) : null,
    params: new URLSearchParams(query),
  };
}

/** The hash for a route. Empty params are dropped. */
export function hashFor(name, params = {}, arg = null) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const qs = q.toString();
  return `#/${name}${arg ? `/${encodeURIComponent(arg)}` : ""}${qs ? `?${qs}` : ""}`;
}

function navigate(name, params = {}, arg = null, { replace = false } = {}) {
  const target = hashFor(name, params, arg);
  if (replace) {
    history.replaceState(null, "", target);
    route();
  } else {
    location.hash = target;
  }
}

/** Change the current view's params (keeps the view). */
function setParams(params, { replace = false } = {}) {
  const cur = parseHash();
  const merged = Object.fromEntries(cur.params);
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") delete merged[k];
    else merged[k] = String(v);
  }
  navigate(cur.name, merged, cur.arg, { replace });
}

function selectRegion(code) {
  const cur = parseHash();
  const mod = ROUTES[cur.name][0];
  if (mod.regionAware) setParams({ region: code, offset: null });
  else navigate(DEFAULT, { region: code });
}

function drawNav(available) {
  const nav = document.getElementById("nav");
  const links = Object.entries(ROUTES)
    .filter(([name, [, text]]) => text && available[name])
    .map(([name, [, text]]) => h("a", { href: `#/${name}`, dataset: { route: name } }, t(text)));
  // The monitoring centre is a page of its own (centre.html).
  const centre = ["admin", "duty_officer", "investigator", "auditor"].includes(state.user?.role)
    ? h("a", { href: "centre.html", dataset: { route: "centre" } }, t("Centre")) : null;
  mount(nav, links, centre);
}

/** Highlight the current page; region-aware pages keep the selected region when switching. */
function markNav(name, region) {
  const active = name === "camera" ? "cameras" : name;
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.route === active);
    const mod = ROUTES[a.dataset.route]?.[0];
    if (mod?.regionAware) a.setAttribute("href", hashFor(a.dataset.route, { region }));
  }
}

function destroyView() {
  try {
    state.view?.destroy?.();
  } catch (e) {
    console.error(e);
  }
  state.view = null;
}

async function route() {
  const r = parseHash();
  const prev = state.route;
  state.route = r;
  markNav(r.name, r.params.get("region"));
  const region = r.params.get("region");
  if (state.tree) state.tree.ready.then(() => state.tree.reveal(region)).catch(() => {});
  document.getElementById("region-clear").hidden = !r.params.get("region");
  // Same view, new params: let the view update in place (keeps focus in search boxes).
  if (prev && prev.name === r.name && prev.arg === r.arg && state.view?.update) {
    state.view.update(r);
    return;
  }
  destroyView();
  const el = document.getElementById("view");
  mount(el, message(t("Loading…")));
  const ctx = { user: state.user, navigate, setParams, hashFor, selectRegion, tree: state.tree };
  try {
    const view = (await ROUTES[r.name][0].render(el, r, ctx)) || null;
    if (state.route === r) state.view = view;
    else view?.destroy?.();
  } catch (e) {
    console.error(e);
    if (state.route === r) mount(el, h("h1", {}, t("Something went wrong")), message(e.message, "error"));
  }
}

function toLogin() {
  const next = encodeURIComponent(location.hash || "");
  location.replace(`login.html${next ? `?next=${next}` : ""}`);
}

async function init() {
  setUnauthorizedHandler(toLogin);
  await initI18n(pickLanguage());
  let me;
  try {
    me = await api("/auth/me");
  } catch (e) {
    if (e.status !== 401) mount(document.getElementById("view"), message(t("Cannot reach the server: {{error}}",
      { error: e.message }), "error"));
    return;
  }
  state.user = me.user || me;
  // The user's saved language wins over this browser's (another desk, same person).
  if (state.user.locale && state.user.locale !== lang()) {
    rememberLanguage(state.user.locale);
    await initI18n(state.user.locale);
  }
  setTimeZone((await consoleConfig()).time_zone);
  languageSwitch(document.getElementById("lang-switch"), {
    save: (locale) => api("/auth/me", { method: "PATCH", body: { locale } }) });
  document.getElementById("whoami").textContent = `${state.user.name} · ${label(ROLES, state.user.role)}`;
  document.getElementById("logout").addEventListener("click", async () => {
    await logout().catch(() => {});
    location.replace("login.html");
  });
  document.getElementById("theme-toggle").addEventListener("click", toggleTheme);
  document.getElementById("region-clear").addEventListener("click", () => setParams({ region: null, offset: null }));

  const available = {};
  await Promise.all(Object.entries(ROUTES).map(async ([name, [, , prefix, roles]]) => {
    available[name] = (!roles || roles.includes(state.user.role)) && (prefix ? await hasApi(prefix) : true);
  }));
  drawNav(available);

  state.tree = new RegionTree(document.getElementById("region-tree"), { onSelect: selectRegion });
  state.tree.load(state.user.scopes || []).catch((e) => toast(t("Region tree: {{error}}", { error: e.message })));
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", (ev) => {
    // "/" jumps to the page's search box, as in most consoles.
    if (ev.key !== "/" || ev.target.closest("input, select, textarea")) return;
    const box = document.querySelector("#view input[type=search]");
    if (box) {
      ev.preventDefault();
      box.focus();
    }
  });
  route();
}

init();
