// What the live, playback and wall pages share: the bearer token of this tab (the console's cookie, or
// #token=<bearer> in the address), the user's language with the switch, and a camera's health state.
import { api, setTabToken } from "./api.js";
import { initI18n, lang, pickLanguage, rememberLanguage, setTimeZone } from "./i18n.js";
import { languageSwitch } from "./langswitch.js";

/** The bearer token for this tab: #token=... wins (kept for the tab), else the one kept at sign-in. */
export function tabToken() {
  const hashToken = new URLSearchParams(location.hash.slice(1)).get("token");
  if (hashToken) setTabToken(hashToken);
  return hashToken || sessionStorage.getItem("vigil_token") || "";
}

/** Start i18n in the user's language (saved on the user, else this browser's) and fill the switch `sel`.
 *  Resolves to the signed-in user, or null when the session is gone. */
export async function startPage(sel) {
  tabToken();
  await initI18n(pickLanguage());
  let me = null;
  try {
    me = await api("/auth/me", { quiet401: true });
    me = me.user || me;
  } catch {
    me = null;
  }
  if (me?.locale && me.locale !== lang()) {
    rememberLanguage(me.locale);
    await initI18n(me.locale);
  }
  const cfg = me ? await api("/config").catch(() => ({})) : {};
  setTimeZone(cfg.time_zone);
  if (sel) languageSwitch(sel, { save: me ? (locale) => api("/auth/me", { method: "PATCH", body: { locale } }) : null });
  return me;
}

/** A camera's health state ("online", "down", "unknown") and the camera, or state "missing" (404). */
export async function cameraState(cameraId) {
  try {
    const cam = await api(`/cameras/${encodeURIComponent(cameraId)}`);
    return { state: cam.status?.state || "unknown", since: cam.status?.since || null, camera: cam };
  } catch (e) {
    return { state: e.status === 404 ? "missing" : "unknown", since: null, camera: null };
  }
}
