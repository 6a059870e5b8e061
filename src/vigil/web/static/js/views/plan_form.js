// The form that runs a new coverage plan: buildings (and optional roads, boundaries, must-watch points)
// uploaded as GeoJSON / OSM / GeoPackage, a DORI level, and a coverage target or a budget. The plan runs as
// a job on the server: a progress bar follows its stages (server-sent events) and a button cancels it.
import { api } from "../api.js";
import { h, mount, toast } from "../dom.js";
import { formatNumber, t } from "../i18n.js";

const LEVELS = [["detect", "Detect (25 px/m)"], ["observe", "Observe (62.5 px/m)"],
  ["recognise", "Recognise (125 px/m)"], ["identify", "Identify (250 px/m)"]];

function field(text, input, hint = "") {
  return h("label", { class: "field" }, h("span", {}, t(text)), h("span", {}, input,
    hint ? h("small", { class: "muted" }, ` ${t(hint)}`) : null));
}

/** The plan form: it queues a plan job and shows its progress; `onDone({id})` is called with the recorded plan. */
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
  const eagle = h("input", { type: "checkbox", name: "eagle_eye", value: "true", id: "plan-eagle-eye" });
  const submit = h("button", { type: "submit", class: "primary", id: "plan-submit" }, t("Run plan"));
  const status = h("span", { class: "muted", role: "status" });
  const refused = h("p", { class: "message error", id: "plan-refused", role: "alert", hidden: true });
  const form = h("form", { class: "card form-grid", id: "plan-form" }, h("h2", {}, t("New coverage plan")),
    field("Region", regionIn), field("Name", name), field("Buildings", area, "required"),
    field("Roads", file("roads")), field("Boundaries", file("boundary")), field("Must watch", file("must_watch")),
    field("Level", level), field("Target", target, "share of targets to cover"),
    field("Budget", budget, "instead of a target"), field("Time limit", limit, "seconds for the solver"),
    field("Eagle-eye high points", eagle, "panoramic and PTZ cameras on rooftops and towers (town centres)"),
    h("div", { class: "actions" }, submit, status), refused);
  const progress = h("div", { class: "plan-progress", id: "plan-progress", hidden: true });
  form.append(progress);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    for (const [k, v] of [...data.entries()]) {
      if (v === "" || (v instanceof File && !v.name)) data.delete(k);
    }
    if (budget.value) data.delete("target");
    submit.disabled = true;
    refused.hidden = true;
    status.textContent = t("Uploading…");
    try {
      const job = await api("/plans", { method: "POST", body: data });
      status.textContent = "";
      followJob(progress, job, (end) => {
        submit.disabled = false;
        if (end.state === "done") onDone({ id: end.plan_id });
        else if (end.state === "failed") toast(t("Plan failed: {{error}}", { error: end.error || "" }), 10000);
      });
    } catch (e) {
      submit.disabled = false;
      status.textContent = "";
      const why = refusal(e);
      if (why) {
        refused.textContent = why;
        refused.hidden = false;
      } else {
        toast(t("Plan failed: {{error}}", { error: e.message }), 10000);
      }
    }
  });
  return form;
}

/** The server's refusal of the form in the user's language (a map outside the region), or null for others. */
function refusal(e) {
  const p = e.problem || {};
  if (!String(p.type || "").endsWith("/area-outside-region")) return null;
  const km = (v) => formatNumber(v, { maximumFractionDigits: 1 });
  const facts = { region: `${p.region_name} (${p.region_code})`, km: km(p.distance_km), margin: km(p.margin_km) };
  return p.basis === "outline"  // judged by the region's (or its nearest ancestor's) outline
    ? t("The map lies outside {{region}}: it is {{km}} km from the region's outline (at most {{margin}} km). Pick the region the map belongs to, or a map of this region.", facts)
    : t("The map lies outside {{region}}: it is {{km}} km from the region's sites and cameras (at most {{margin}} km). Pick the region the map belongs to, or a map of this region.", facts);
}

const STAGE_TEXT = {
  read: () => t("Reading the area"), targets: () => t("Placing targets"), candidates: () => t("Placing candidate cameras"),
  visibility: () => t("Computing what each camera sees"), optimise: () => t("Choosing the cameras (solver)"),
  report: () => t("Writing the report"), queue: () => t("Queued again after a server restart"),
  sites: () => t("Reading the sites"), curves: () => t("Pricing every site"), allocate: () => t("Allocating the budget"),
};

/** A plan stage's name in the user's language: the server sends keys (vigil.coverage.progress.STAGE_KEYS). */
export function stageName(key) {
  return (STAGE_TEXT[key] || (() => key || ""))();
}

/** A DORI level's name in the user's language ("observe" → "Observe (62.5 px/m)"). */
export function levelName(level) {
  const known = LEVELS.find(([v]) => v === level);
  return known ? t(known[1]) : level || "—";
}

/** Show a plan job's progress in `slot` (server-sent events; polling if the stream fails); `onEnd(end)` once. */
export function followJob(slot, job, onEnd) {
  const bar = h("progress", { max: 100, value: job.percent || 0, "aria-label": t("Plan progress"), style: { width: "16rem" } });
  const label = h("span", { class: "muted", role: "status" });
  const cancel = h("button", { type: "button", class: "secondary", id: "plan-cancel" }, t("Cancel"));
  slot.hidden = false;
  mount(slot, h("div", { class: "actions" }, bar, label, cancel));
  let ended = false;
  let source = null;
  let timer = null;
  const show = (p) => {
    bar.value = p.percent || 0;
    const what = p.state === "queued" ? t("Waiting in the queue") : stageName(p.stage);
    label.textContent = `${what} · ${formatNumber(p.percent || 0, { maximumFractionDigits: 0 })} %`;
  };
  const end = (e) => {
    if (ended) return;
    ended = true;
    source?.close();
    clearInterval(timer);
    cancel.disabled = true;
    label.textContent = { done: t("Done"), failed: t("Failed: {{error}}", { error: e.error || "" }),
      cancelled: t("Cancelled") }[e.state] || e.state;
    if (e.state === "done") bar.value = 100;
    onEnd(e);
  };
  const poll = () => {
    source?.close();
    timer = setInterval(async () => {
      try {
        const j = await api(`/plans/jobs/${job.id}`);
        show(j);
        if (!["queued", "running"].includes(j.state)) end(j);
      } catch (err) {
        toast(err.message);
      }
    }, 1000);
  };
  show(job);
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try {
      await api(`/plans/jobs/${job.id}/cancel`, { method: "POST" });
    } catch (err) {
      cancel.disabled = false;
      toast(err.message);
    }
  });
  if (typeof EventSource === "undefined") {
    poll();
  } else {
    source = new EventSource(job.events_url, { withCredentials: true });
    source.addEventListener("progress", (ev) => show(JSON.parse(ev.data)));
    source.addEventListener("end", (ev) => end(JSON.parse(ev.data)));
    source.onerror = () => { if (!ended) poll(); }; // e.g. a tab without the session cookie: poll instead
  }
  return { stop: () => { ended = true; source?.close(); clearInterval(timer); } };
}
