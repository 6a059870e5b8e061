// The sign-in page: posts the credentials, then goes to the page the user wanted.
import { ApiError, api, login } from "./api.js";
import { initI18n, pickLanguage, t } from "./i18n.js";
import { languageSwitch } from "./langswitch.js";
import { applyTheme } from "./theme.js";

applyTheme();

function nextUrl() {
  const next = new URLSearchParams(location.search).get("next") || "";
  // Only same-console destinations: a hash route of index.html.
  return next.startsWith("#/") ? `./${next}` : "./";
}

async function alreadySignedIn() {
  try {
    await api("/auth/me", { quiet401: true });
    location.replace(nextUrl());
  } catch {
    /* not signed in: stay */
  }
}

async function init() {
  await initI18n(pickLanguage());
  languageSwitch(document.getElementById("lang-switch"));
  const form = document.getElementById("login-form");
  const err = document.getElementById("login-error");
  const submit = document.getElementById("login-submit");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    submit.disabled = true;
    submit.textContent = t("Signing in…");
    try {
      await login(form.username.value.trim(), form.password.value);
      location.replace(nextUrl());
    } catch (e) {
      err.textContent = e instanceof ApiError && e.status === 401
        ? t("Wrong user name or password.")
        : t("Sign-in failed: {{error}}", { error: e.message });
      err.hidden = false;
      form.password.select();
    } finally {
      submit.disabled = false;
      submit.textContent = t("Sign in");
    }
  });
  alreadySignedIn();
}

init();
