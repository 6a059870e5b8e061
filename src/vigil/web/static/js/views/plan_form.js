// The form that runs a new coverage plan: buildings (and optional roads, boundaries, must-watch points)
// uploaded as GeoJSON / OSM / GeoPackage, a DORI level, and a coverage target or a budget.
import { api } from "../api.js";
import { h, toast } from "../dom.js";
import { t } from "../i18n.js";

const LEVELS = [["detect", "Detect (25 px/m)"], ["observe", "Observe (62.5 px/m)"],
  ["recognise", "Recognise (125 px/m)"], ["identify", "Identify (250 px/m)"]];

function field(text, input, hint = "") {
  return h("label", { class: "field" }, h("span", {}, t(text)), h("span", {}, input,
    hint ? h("small", { class: "muted" }, ` ${t(hint)}`) : null));
}

/** The plan form; `onDone(plan)` is called with the recorded plan. */
export function planForm(region, onDone) {
  const file = (name) => h("input", { type: "file", name, accept: ".geojson,.json,.osm,.pbf,.gpkg,.xml" });
  const area = file("area");
  area.required = true;
  const regionIn = h("input", { name: "region_code", required: true, value: region || "", class: "mono",
    placeholder: t("town or village code") });
  const name = h("input", { name: "name", placeholder: t("e.g. 金色家园 blind spots") });
  const level = h("select", { name: "level" }, LEVELS.map(([v, text]) => h("option", { value: v,
    selected: v === "observe" }, t(text))));
  const target = h("input", { name: "target", type: "number", min: 0.1, max: 1, step: 0.01, value: 1 });
  const budget = h("input", { name: "budget", type: "number", min: 0, step: 100, placeholder: t("optional") });
  const limit = h("input", { name: "time_limit", type: "number", min: 1, max: 120, value: 30 });
  const submit = h("button", { type: "submit", class: "primary", id: "plan-submit" }, t("Run plan"));
  const status = h("span", { class: "muted", role: "status" });
  const form = h("form", { class: "card form-grid", id: "plan-form" }, h("h2", {}, t("New coverage plan")),
    field("Region", regionIn), field("Name", name), field("Buildings", area, "required"),
    field("Roads", file("roads")), field("Boundaries", file("boundary")), field("Must watch", file("must_watch")),
    field("Level", level), field("Target", target, "share of targets to cover"),
    field("Budget", budget, "instead of a target"), field("Time limit", limit, "seconds for the solver"),
    h("div", { class: "actions" }, submit, status));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    for (const [k, v] of [...data.entries()]) {
      if (v === "" || (v instanceof File && !v.name)) data.delete(k);
    }
    if (budget.value) data.delete("target");
    submit.disabled = true;
    status.textContent = t("Planning… visibility, candidates and the optimiser can take a minute or two.");
    try {
      onDone(await api("/plans", { method: "POST", body: data }));
    } catch (e) {
      toast(t("Plan failed: {{error}}", { error: e.message }), 10000);
    } finally {
      submit.disabled = false;
      status.textContent = "";
    }
  });
  return form;
}
