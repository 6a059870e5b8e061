// The audit log for auditors: who did what to which object, filtered, and a check of the hash chain.
import { api } from "../api.js";
import { debounce, h, message, mount } from "../dom.js";
import { num, when } from "../labels.js";
import { pager, table } from "../widgets.js";
import { t } from "../i18n.js";

function filters(p, ctx) {
  const text = (name, placeholder) => {
    const i = h("input", { type: "search", id: `au-${name}`, placeholder, value: p.get(name) || "",
      "aria-label": placeholder });
    i.addEventListener("input", debounce(() => ctx.setParams({ [name]: i.value.trim(), offset: null },
      { replace: true }), 400));
    return i;
  };
  return h("div", { class: "filters" }, text("actor", t("Actor (exact)")), text("action", t("Action prefix, e.g. video.")),
    text("target", t("Target, e.g. camera:5301…")));
}

async function verify(slot) {
  mount(slot, h("span", { class: "muted" }, t("Checking the chain…")));
  try {
    const r = await api("/audit/verify");
    mount(slot, r.ok
      ? h("span", { class: "badge ok", id: "audit-verify" }, t("Chain intact · {{n}} entries", { n: num(r.entries) }))
      : h("span", { class: "badge bad", id: "audit-verify" },
        t("Chain broken at #{{seq}}: {{reason}}", { seq: r.first_bad_seq, reason: r.reason })));
  } catch (e) {
    mount(slot, message(e.message, "error"));
  }
}

function detailText(d) {
  const s = Object.entries(d || {}).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`)
    .join(" · ");
  return s.length > 140 ? `${s.slice(0, 140)}…` : s;
}

/** Render the audit log. */
export async function render(el, route, ctx) {
  let p = route.params;
  const result = h("span", {});
  const body = h("div", { id: "audit-table" }, message(t("Loading…")));
  mount(el, h("div", { class: "view-head" }, h("h1", {}, t("Audit log")),
    h("button", { type: "button", id: "audit-verify-btn", onclick: () => verify(result) }, t("Verify hash chain")),
    result), filters(p, ctx), body);
  async function load() {
    const limit = Number(p.get("limit")) || 50;
    const offset = Math.max(0, Number(p.get("offset")) || 0);
    try {
      const res = await api("/audit", { query: { actor: p.get("actor"), action: p.get("action"),
        target: p.get("target"), limit, offset } });
      mount(body, table([
        ["#", (e) => e.seq, "num"], ["Time", (e) => when(e.ts)], ["Actor", (e) => e.actor],
        ["Action", (e) => h("span", { class: "mono" }, e.action)], ["Target", (e) => h("span", { class: "mono" },
          e.target)],
        ["Detail", (e) => h("span", { title: JSON.stringify(e.detail) }, detailText(e.detail)), "wrap"],
      ], res.items, { empty: "No entry matches.", cls: "audit" }),
      pager({ total: res.total, offset, limit, id: "au-page", go: (o) => ctx.setParams({ offset: o || null }),
        onLimit: (n) => ctx.setParams({ limit: n, offset: null }) }));
    } catch (e) {
      mount(body, message(t("Could not load the audit log: {{error}}", { error: e.message }), "error"));
    }
  }
  load();
  return { update(r) { p = r.params; load(); } };
}
