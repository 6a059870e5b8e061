// Light/dark theme, remembered per browser. Dark is the default for night shifts.
const KEY = "vigil_theme";

/** Apply the saved theme to <html>. */
export function applyTheme() {
  const t = localStorage.getItem(KEY);
  if (t === "light") document.documentElement.dataset.theme = "light";
  else delete document.documentElement.dataset.theme;
}

/** Flip the theme and tell listeners (charts and maps repaint). */
export function toggleTheme() {
  localStorage.setItem(KEY, document.documentElement.dataset.theme === "light" ? "dark" : "light");
  applyTheme();
  window.dispatchEvent(new Event("vigil-theme"));
}

/** Read a CSS custom property of the current theme, e.g. cssVar("--text"). */
export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
