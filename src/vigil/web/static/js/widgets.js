// Shared page widgets: pager, data tables, KPI cards, period picker.
import { h, select } from "./dom.js";
import { num } from "./labels.js";
import { t } from "./i18n.js";

/** Pagination controls; `go(offset)` is called with the new offset. `id` prefixes element ids. */
export function pager({ total, offset, limit, go, onLimit, sizes = [25, 50, 100, 200], id = "page" }) {
  const page = Math.floor(offset / limit) + 1;
  const pages = Math.max(1, Math.ceil(total / limit));
  const sizeSel = select({ id: `${id}-size`, "aria-label": t("Rows per page") }, null,
    sizes.map((n) => [n, t("{{n}} / page", { n })]), limit);
  sizeSel.addEventListener("change", () => onLimit(Number(sizeSel.value)));
  const btn = (suffix, text, disabled, to) => h("button", { type: "button", id: `${id}-${suffix}`, disabled,
    onclick: () => go(Math.max(0, to)) }, text);
  return h("div", { class: "pager" },
    h("span", { id: `${id}-count` }, t("{{from}}–{{to}} of {{total}}", { from: num(total ? offset + 1 : 0),
      to: num(Math.min(offset + limit, total)), total: num(total) })),
    h("span", { class: "spacer" }),
    btn("first", t("« First"), page <= 1, 0),
    btn("prev", t("‹ Prev"), page <= 1, offset - limit),
    h("span", {}, t("Page {{page}} / {{pages}}", { page: num(page), pages: num(pages) })),
    btn("next", t("Next ›"), page >= pages, offset + limit),
    btn("last", t("Last »"), page >= pages, (pages - 1) * limit),
    sizeSel);
}

/** A table: columns are [header, cell(row) → node|string, className?]; rows get `rowAttrs(row)`. */
export function table(columns, rows, { rowAttrs = () => ({}), empty = null, cls = "" } = {}) {
  return h("div", { class: "table-wrap" }, h("table", { class: cls },
    h("thead", {}, h("tr", {}, columns.map(([head, , c]) => h("th", { class: c || null }, head ? t(head) : head)))),
    h("tbody", {}, rows.length
      ? rows.map((r) => h("tr", rowAttrs(r), columns.map(([, cell, c]) => h("td", { class: c || null }, cell(r)))))
      : h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty ? t(empty) : t("Nothing to show."))))));
}

/** A KPI card. `tone` is "ok", "warn" or "bad" (colours the value). */
export function kpiCard(labelText, value, sub = "", { tone = "", id = null } = {}) {
  return h("div", { class: "card kpi", id },
    h("div", { class: "label" }, t(labelText)),
    h("div", { class: `value ${tone}` }, value),
    sub ? h("div", { class: "sub" }, sub) : null);
}

/** The tone of a rate against targets (e.g. online rate ≥ 95 % good, ≥ 90 % warn). */
export function rateTone(x, good = 0.95, warn = 0.9) {
  if (x === null || x === undefined) return "";
  return x >= good ? "ok" : x >= warn ? "warn" : "bad";
}

/** A segmented period picker. */
export function periodPicker(current, onPick, periods = [["24h", "24 h"], ["7d", "7 days"], ["30d", "30 days"]]) {
  return h("div", { class: "segmented", role: "group", "aria-label": t("Period") },
    periods.map(([v, text]) => h("button", { type: "button", class: v === current ? "active" : "",
      dataset: { period: v }, onclick: () => onPick(v) }, t(text))));
}
