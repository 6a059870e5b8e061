// Editing a camera (administrators): only the fields that changed are sent; the server checks the rest
// (lifecycle moves forward only, URLs, ranges) and its message is shown as is.
import { api } from "../api.js";
import { h, toast } from "../dom.js";
import { KINDS, LIFECYCLES, OWNERS, options } from "../labels.js";
import { t } from "../i18n.js";

const TEXT = [["name", "Name"], ["main_url", "Main stream"], ["sub_url", "Sub stream"], ["onvif_url", "ONVIF URL"],
  ["username", "User name"]];
const NUMBERS = [["lon", "Longitude", 0.000001], ["lat", "Latitude", 0.000001], ["height_m", "Height (m)", 0.1],
  ["heading_deg", "Heading (°)", 1], ["tilt_deg", "Tilt (°)", 1]];
const CHOICES = [["kind", "Kind", KINDS], ["owner", "Owner", OWNERS], ["lifecycle", "Lifecycle", LIFECYCLES]];

function row(text, input) {
  return h("label", { class: "field" }, h("span", {}, t(text)), input);
}

function inputs(c) {
  const els = {};
  for (const [k] of TEXT) els[k] = h("input", { name: k, value: c[k] ?? "", lang: k === "name" ? "zh" : null });
  for (const [k, , step] of NUMBERS) els[k] = h("input", { name: k, type: "number", step, value: c[k] ?? "" });
  for (const [k, , table] of CHOICES) {
    els[k] = h("select", { name: k }, options(table).map(([v, text]) => h("option", { value: v,
      selected: v === c[k] }, text)));
  }
  els.password = h("input", { name: "password", type: "password", autocomplete: "new-password",
    placeholder: c.has_password ? t("unchanged") : t("none") });
  return els;
}

/** The changed fields of `c` as a PATCH body. */
function changes(c, els) {
  const body = {};
  for (const [k] of [...TEXT, ...CHOICES]) if (els[k].value !== String(c[k] ?? "")) body[k] = els[k].value;
  for (const [k] of NUMBERS) {
    if (els[k].value !== "" && Number(els[k].value) !== c[k]) body[k] = Number(els[k].value);
  }
  if (els.password.value) body.password = els.password.value;
  return body;
}

/** An edit form for camera `c`; `onSaved(camera)` runs after a successful save. */
export function editForm(c, onSaved, onCancel) {
  const els = inputs(c);
  const save = h("button", { type: "submit", class: "primary", id: "edit-save" }, t("Save"));
  const form = h("form", { class: "card form-grid", id: "camera-edit" }, h("h2", {}, t("Edit camera")),
    TEXT.slice(0, 1).map(([k, t]) => row(t, els[k])), CHOICES.map(([k, t]) => row(t, els[k])),
    NUMBERS.map(([k, t]) => row(t, els[k])), TEXT.slice(1).map(([k, t]) => row(t, els[k])),
    row("Password", els.password),
    h("div", { class: "actions" }, save, h("button", { type: "button", onclick: onCancel }, t("Cancel"))));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = changes(c, els);
    if (!Object.keys(body).length) {
      onCancel();
      return;
    }
    save.disabled = true;
    try {
      onSaved(await api(`/cameras/${encodeURIComponent(c.id)}`, { method: "PATCH", body }));
    } catch (e) {
      toast(t("Not saved: {{error}}", { error: e.message }), 10000);
    } finally {
      save.disabled = false;
    }
  });
  return form;
}
