// The only way the console talks to the server: JSON over /api/v1, errors as RFC 9457 problems.
// Auth rides on the HttpOnly `vigil_token` cookie set at login. If a browser refuses that cookie
// (e.g. a Secure cookie over plain http), the token from the login answer is kept for this tab only.

import { lang } from "./i18n.js";

const BASE = "/api/v1";
const TOKEN_KEY = "vigil_token";

/** An API failure carrying the problem document. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

let onUnauthorized = () => {};

/** Called whenever the server answers 401 (the session ended). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/** Keep (or forget) the bearer token for this tab. */
export function setTabToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Build an /api/v1 URL; empty, null and undefined query values are left out. */
export function apiUrl(path, query) {
  const url = new URL(BASE + path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  return url;
}

/** Call the API and return the decoded JSON body (or null for 204). Throws ApiError.
 *  A FormData `body` goes as multipart (file uploads); anything else as JSON. */
export async function api(path, { method = "GET", query, body, signal, quiet401 = false } = {}) {
  // the console's language, so that a problem's `detail` comes back in it (`detail_en` keeps the English)
  const headers = { Accept: "application/json, application/problem+json", "Accept-Language": lang() };
  const form = body instanceof FormData;
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(apiUrl(path, query), {
    method, headers, signal, credentials: "same-origin",
    body: body === undefined || form ? body : JSON.stringify(body),
  });
  if (!res.ok) {
    let problem;
    try {
      problem = await res.json();
    } catch {
      problem = { title: res.statusText || `HTTP ${res.status}` };
    }
    if (res.status === 401 && !quiet401) onUnauthorized();
    throw new ApiError(res.status, problem);
  }
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") || "";
  return type.includes("json") ? res.json() : res.text();
}

/** Like api(), but resolves to `fallback` when the route does not exist (404/405). */
export async function apiOptional(path, opts = {}, fallback = null) {
  try {
    return await api(path, opts);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return fallback;
    throw err;
  }
}

/** Sign in; returns {token, user}. */
export async function login(username, password) {
  const out = await api("/auth/login", { method: "POST", body: { username, password }, quiet401: true });
  // Check the cookie took; if not, fall back to a per-tab bearer token.
  setTabToken(null);
  try {
    await api("/auth/me", { quiet401: true });
  } catch {
    setTabToken(out.token);
  }
  return out;
}

/** Sign out (best effort) and forget the tab token. */
export async function logout() {
  try {
    await api("/auth/logout", { method: "POST", quiet401: true });
  } finally {
    setTabToken(null);
  }
}

let openapiPaths = null;

/** The set of API paths the server offers (from its OpenAPI document), to show only pages that work. */
export function serverPaths() {
  if (!openapiPaths) {
    openapiPaths = fetch("/openapi.json", { credentials: "same-origin" })
      .then((res) => (res.ok ? res.json() : null))
      .then((doc) => new Set(Object.keys(doc?.paths || {})))
      .catch(() => new Set());
  }
  return openapiPaths;
}

/** True if any server path starts with `prefix` (e.g. "/api/v1/events"); unknown → true. */
export async function hasApi(prefix) {
  const paths = await serverPaths();
  if (paths.size === 0) return true;
  for (const p of paths) if (p.startsWith(prefix)) return true;
  return false;
}
