// The language switch in the top bar and on the sign-in page.
import { h, mount, toast } from "./dom.js";
import { LANGUAGES, lang, rememberLanguage } from "./i18n.js";

/** Fill `sel` with the languages. A choice is kept in this browser (and by `save`, on the user), then the page
 *  reloads so that every view, chart and table is drawn again in the new language. */
export function languageSwitch(sel, { save = null } = {}) {
  mount(sel, LANGUAGES.map(([v, text]) => h("option", { value: v, selected: v === lang(), lang: v }, text)));
  sel.addEventListener("change", async () => {
    rememberLanguage(sel.value);
    if (save) await save(sel.value).catch((e) => toast(e.message));
    location.reload();
  });
}
