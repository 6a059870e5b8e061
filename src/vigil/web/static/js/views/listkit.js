// Shared parts of the full-list pages (work orders, alarms, cameras down): filter selects kept in the URL,
// paging, and a heading that shows the true total the server counted (never the length of one page).
import { h, select } from "../dom.js";
import { t } from "../i18n.js";
import { num } from "../labels.js";
import { pager } from "../widgets.js";

/** A filter <select> bound to URL parameter `name`; `opts` are [value, English label] pairs. */
export function filterSelect(ctx, p, name, anyLabel, opts, id) {
  const s = select({ id, "aria-label": t(anyLabel) }, anyLabel === null ? null : t(anyLabel),
    opts.map(([v, text]) => [v, t(text)]), p.get(name));
  s.addEventListener("change", () => ctx.setParams({ [name]: s.value, offset: null }));
  return s;
}

/** limit and offset from the URL. */
export function paging(p, fallback = 50) {
  return { limit: Number(p.get("limit")) || fallback, offset: Math.max(0, Number(p.get("offset")) || 0) };
}

/** The pager of a list page. */
export function listPager(ctx, total, { limit, offset }, id) {
  return pager({ total, offset, limit, id, go: (o) => ctx.setParams({ offset: o || null }),
    onLimit: (n) => ctx.setParams({ limit: n, offset: null }) });
}

/** "Work orders · 1,234" with the count in its own element (`id`-count) for tests and screen readers. */
export function countedTitle(text, total, id) {
  return h("h1", {}, t(text), " ", h("span", { class: "badge info", id }, num(total)));
}
