// Users (administrators): the accounts inside the admin's regions; add one, change its role and regions,
// reset its password (a generated one, shown once), disable it. The server audits every change and refuses
// what would lock people out (the last active admin, one's own account).
import { api } from "../api.js";
import { h, message, mount, toast } from "../dom.js";
import { t } from "../i18n.js";
import { ROLES, label, options, when } from "../labels.js";
import { table } from "../widgets.js";
import { countedTitle } from "./listkit.js";

const codes = (text) => text.split(/[\s,，]+/).map((c) => c.trim()).filter(Boolean);

function addForm(reload, shown) {
  const name = h("input", { id: "user-name", required: true, maxlength: 100, autocomplete: "off" });
  const role = h("select", { id: "user-role" }, options(ROLES).map(([v, text]) => h("option", { value: v }, text)));
  const regions = h("input", { id: "user-regions", required: true, class: "mono", placeholder: "530181, 53018102" });
  const team = h("input", { id: "user-team", maxlength: 100 });
  const field = (text, input) => h("label", { class: "field" }, h("span", {}, t(text)), input);
  const form = h("form", { class: "card form-grid", id: "user-form" }, h("h2", {}, t("Add a user")),
    field("Name", name), field("Role", role), field("Regions", regions), field("Team", team),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "user-add" }, t("Add"))));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const u = await api("/users", { method: "POST", body: { name: name.value.trim(), role: role.value,
        regions: codes(regions.value), team: team.value.trim() } });
      mount(shown, h("p", { class: "card", id: "user-password" }, t("Password of {{name}} (shown once): ", { name: u.name }),
        h("strong", { class: "mono" }, u.password)));
      form.reset();
      reload();
    } catch (e) {
      toast(t("Not added: {{error}}", { error: e.message }), 10000);
    }
  });
  return form;
}

async function change(u, body, reload) {
  try {
    await api(`/users/${u.id}`, { method: "PATCH", body });
    reload();
  } catch (e) {
    toast(t("{{name}}: {{error}}", { name: u.name, error: e.message }), 10000);
  }
}

function rowActions(u, reload, shown) {
  if (!u.active) return "—";
  const b = (act, text, fn) => h("button", { type: "button", dataset: { act, user: u.name }, onclick: fn }, text);
  return h("div", { class: "actions tight" },
    b("role", t("Role…"), () => {
      const role = window.prompt(t("New role for {{name}}: {{roles}}", { name: u.name,
        roles: Object.keys(ROLES).join(", ") }), u.role);
      if (role && role !== u.role) change(u, { role: role.trim() }, reload);
    }),
    b("regions", t("Regions…"), () => {
      const text = window.prompt(t("Region codes for {{name}}", { name: u.name }), u.regions.join(", "));
      if (text !== null && codes(text).length) change(u, { regions: codes(text) }, reload);
    }),
    b("password", t("Reset password"), async () => {
      try {
        const r = await api(`/users/${u.id}/password`, { method: "POST" });
        mount(shown, h("p", { class: "card", id: "user-password" },
          t("Password of {{name}} (shown once): ", { name: r.name }), h("strong", { class: "mono" }, r.password)));
      } catch (e) {
        toast(e.message);
      }
    }),
    b("disable", t("Disable"), async () => {
      if (!window.confirm(t("Disable {{name}}? Their sessions end.", { name: u.name }))) return;
      try {
        await api(`/users/${u.id}`, { method: "DELETE" });
        reload();
      } catch (e) {
        toast(t("{{name}}: {{error}}", { name: u.name, error: e.message }), 10000);
      }
    }));
}

/** Render the users page. */
export async function render(el, route, ctx) {
  const head = h("div", { class: "view-head" });
  const shown = h("div", {});
  const body = h("div", { id: "user-table" }, message(t("Loading…")));
  const reload = async () => {
    try {
      const res = await api("/users");
      mount(head, countedTitle("Users", res.total, "user-total"));
      mount(body, table([
        ["Name", (u) => h("span", { lang: "zh" }, u.name)], ["Role", (u) => label(ROLES, u.role)],
        ["Regions", (u) => h("span", { class: "mono" }, u.regions.join(", "))], ["Team", (u) => u.team || "—"],
        ["State", (u) => h("span", { class: `badge ${u.active ? "ok" : "muted"}` }, u.active ? t("active") : t("disabled"))],
        ["Created", (u) => when(u.created_at)], ["", (u) => (u.name === ctx.user.name ? "—" : rowActions(u, reload, shown))],
      ], res.items, { cls: "users", rowAttrs: (u) => ({ dataset: { name: u.name } }) }));
    } catch (e) {
      mount(body, message(t("Could not load users: {{error}}", { error: e.message }), "error"));
    }
  };
  mount(el, head, shown, addForm(reload, shown), body);
  reload();
  return null;
}
