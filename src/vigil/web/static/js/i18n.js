// Languages: i18next (vendored, loaded as a classic script before the modules) with one message catalogue per
// language in ../locales/<lang>.json. Keys are the English text itself ("Cameras", "{{n}} of {{total}}"), so a
// missing Chinese entry falls back to readable English; tests check every key used in the code is in both files.
// Dates, numbers and money are formatted with Intl for the current language, in the instance's time zone.

export const LANGUAGES = [["zh-CN", "中文"], ["en", "English"]];
const KEY = "vigil_locale";
const i18n = window.i18next; // absent on a page that keeps its own words (centre.html)
let timeZone;

/** zh-CN for any Chinese browser or saved choice, else en. */
export function normalise(lang) {
  return String(lang || "").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

/** The language to start with: the user's saved choice, this browser's last choice, then the browser's own. */
export function pickLanguage(saved = null) {
  return normalise(saved || localStorage.getItem(KEY) || navigator.languages?.[0] || navigator.language);
}

async function catalogue(lang) {
  const res = await fetch(new URL(`../locales/${lang}.json`, import.meta.url), { credentials: "same-origin" });
  return res.ok ? res.json() : {};
}

/** Translate the static page: elements with data-i18n (text), data-i18n-title and data-i18n-placeholder. */
export function translateDom(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  if (document.documentElement.dataset.i18nTitle) document.title = t(document.documentElement.dataset.i18nTitle);
}

/** Load the catalogues and start i18next in `lang`; the page's static text is translated. */
export async function initI18n(lang) {
  const lng = normalise(lang);
  const [en, zh] = await Promise.all([catalogue("en"), lng === "zh-CN" ? catalogue("zh-CN") : {}]);
  await i18n.init({
    lng, fallbackLng: "en", resources: { en: { translation: en }, "zh-CN": { translation: zh } },
    keySeparator: false, nsSeparator: false, returnEmptyString: false, interpolation: { escapeValue: false },
  });
  document.documentElement.lang = lng;
  translateDom();
  return lng;
}

/** Translate `key` (English text) with {{placeholders}} from `vars`. */
export function t(key, vars) {
  return i18n?.isInitialized ? i18n.t(key, vars) : key;
}

/** The current language ("zh-CN" or "en"); on a page without i18next, the one it picks for itself. */
export function lang() {
  if (!i18n) return pickLanguage();
  return i18n.isInitialized ? i18n.language : "en";
}

/** Remember `lng` in this browser (the server copy is saved by the caller). */
export function rememberLanguage(lng) {
  localStorage.setItem(KEY, normalise(lng));
}

/** Dates and "today" follow the instance's time zone (from /api/v1/config), not the browser's. */
export function setTimeZone(tz) {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    timeZone = tz || undefined;
  } catch {
    timeZone = undefined;
  }
}

/** The instance time zone, or undefined (the browser's) when none is known. */
export function instanceTimeZone() {
  return timeZone;
}

const numberFormats = new Map();
function nf(opts = {}) {
  const key = `${lang()}|${JSON.stringify(opts)}`;
  if (!numberFormats.has(key)) numberFormats.set(key, new Intl.NumberFormat(lang() === "en" ? "en-GB" : lang(), opts));
  return numberFormats.get(key);
}

/** 20547 → "20,547". */
export function formatNumber(n, opts) {
  return nf(opts).format(n);
}

/** An ISO timestamp as "2026-11-27 22:31" (en) or "2026/11/27 22:31" (zh-CN), in the instance time zone. */
export function formatDateTime(iso, { seconds = false } = {}) {
  const d = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", { timeZone, year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" })
    .formatToParts(d).map((p) => [p.type, p.value]));
  const sep = lang() === "zh-CN" ? "/" : "-";
  const time = `${parts.hour}:${parts.minute}${seconds ? `:${parts.second}` : ""}`;
  return `${parts.year}${sep}${parts.month}${sep}${parts.day} ${time}`;
}

/** The calendar day of `d` in the instance time zone, "2026-11-27". */
export function localDay(d = new Date()) {
  const p = Object.fromEntries(new Intl.DateTimeFormat("en-GB", { timeZone, year: "numeric", month: "2-digit",
    day: "2-digit" }).formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}`;
}

/** Money in yuan: "¥2.56 M" in English, "256 万元" in Chinese (small sums as "¥980" / "980 元"). */
export function formatMoney(yuan) {
  if (yuan === null || yuan === undefined || Number.isNaN(Number(yuan))) return "—";
  const v = Number(yuan);
  if (lang() === "zh-CN") {
    if (Math.abs(v) >= 1e8) return `${formatNumber(v / 1e8, { maximumFractionDigits: 2 })} 亿元`;
    if (Math.abs(v) >= 1e4) return `${formatNumber(v / 1e4, { maximumFractionDigits: 2 })} 万元`;
    return `${formatNumber(Math.round(v))} 元`;
  }
  if (Math.abs(v) >= 1e6) return `¥${formatNumber(v / 1e6, { maximumFractionDigits: 2 })} M`;
  if (Math.abs(v) >= 1e4) return `¥${formatNumber(v / 1e3, { maximumFractionDigits: 1 })} k`;
  return `¥${formatNumber(Math.round(v))}`;
}
