// Zones and masks of one camera, drawn on its snapshot: intrusion zones, loitering zones (with a dwell time),
// crossing lines and privacy masks. Click to add points (a line takes two; a polygon ends with "Finish shape"
// or a double click). "Preview masks" blacks out the drafted masks on the picture as they will be applied;
// after saving, the server's own masked snapshot (the FFmpeg mask graph of live view and exports) is shown.
// Zones and lines go to the camera's analytics setting, masks to its privacy masks.
import { ApiError, api, apiUrl } from "../api.js";
import { h, mount } from "../dom.js";
import { t } from "../i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const TOOLS = () => [["intrusion", t("Intrusion zone")], ["loitering", t("Loitering zone")],
  ["line", t("Crossing line")], ["mask", t("Privacy mask")]];
const COLORS = { intrusion: "#ff5d5d", loitering: "#f5b341", line: "#4cc2ff", mask: "#000000" };

/** A stored zone this editor draws: intrusion or loitering rules only, no lane (stop line). Others are kept. */
export function editable(z) {
  return !z.stop_line && (z.rules || []).every((r) => r.type === "intrusion" || r.type === "loitering");
}

/** Shapes from the stored documents: analytics zones and lines, and the camera's privacy masks. */
export function shapesFrom(zonesDoc, masks) {
  const out = [];
  for (const z of (zonesDoc?.zones || []).filter(editable)) {
    const rule = (z.rules || [])[0] || { type: "intrusion" };
    out.push({ kind: rule.type === "loitering" ? "loitering" : "intrusion", name: z.name, points: z.polygon,
      dwell_s: rule.dwell_s || 0 });
  }
  for (const l of zonesDoc?.lines || []) out.push({ kind: "line", name: l.name, points: l.points, labels: l.labels });
  for (const m of masks || []) out.push({ kind: "mask", name: m.name || "", points: m.polygon });
  return out;
}

/** The analytics zones document and the privacy-mask list for the shapes. What the editor does not draw
 *  (lane zones, stopped and queue rules, the document's other keys) is kept from `stored` as it was. */
export function documentsFor(shapes, stored = {}) {
  const r4 = (pts) => pts.map(([x, y]) => [Math.round(x * 1e4) / 1e4, Math.round(y * 1e4) / 1e4]);
  const zones = shapes.filter((s) => s.kind === "intrusion" || s.kind === "loitering").map((s) => ({
    name: s.name, polygon: r4(s.points),
    rules: [s.kind === "loitering" ? { type: "loitering", dwell_s: Number(s.dwell_s) || 30 } : { type: "intrusion" }] }));
  const lines = shapes.filter((s) => s.kind === "line").map((s) => ({ name: s.name, points: r4(s.points),
    ...(s.labels ? { labels: s.labels } : {}) }));
  const masks = shapes.filter((s) => s.kind === "mask").map((s) => ({ name: s.name, polygon: r4(s.points) }));
  const kept = (stored?.zones || []).filter((z) => !editable(z));
  return { zones: { ...(stored || {}), zones: [...kept, ...zones], lines }, masks };
}

async function imageUrl(cameraId, masked) {
  const headers = {};
  const token = sessionStorage.getItem("vigil_token");
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(apiUrl(`/video/snapshots/${encodeURIComponent(cameraId)}`, { masked }),
    { headers, credentials: "same-origin", cache: "no-store" });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => ({})));
  return URL.createObjectURL(await res.blob());
}

/** What went wrong, in the user's language, by the server's status (its English detail is kept in data-detail). */
export function problemText(kind, status) {
  const texts = kind === "picture" ? {
    403: () => t("You may not see this camera's picture."),
    404: () => t("This camera has no picture to show."),
    503: () => t("The camera gives no picture now (down or still starting); shapes can still be drawn. Reload to try again."),
  } : {
    403: () => t("Only an administrator changes zones and masks."),
    404: () => t("This camera is gone; nothing was saved."),
    409: () => t("Someone changed this camera meanwhile; reload the page and save again."),
    412: () => t("Someone changed this camera meanwhile; reload the page and save again."),
    422: () => t("The server refused the shapes: a zone or mask needs three points, a line two, inside the picture."),
  };
  return (texts[status] || (() => kind === "picture" ? t("No picture (the server answered {{status}}).", { status })
    : t("Not saved (the server answered {{status}}).", { status })))();
}

/** Render the editor of camera `route.arg` into `el`. */
export async function render(el, route, ctx) {
  const id = route.arg;
  const cid = encodeURIComponent(id);
  const [cam, setting, maskList] = await Promise.all([api(`/cameras/${cid}`), api(`/analytics/cameras/${cid}`),
    api(`/video/cameras/${cid}/masks`)]);
  const canEdit = ctx.user.role === "admin";
  const state = { shapes: shapesFrom(setting.zones, maskList.masks), draft: [], tool: "intrusion", preview: false };
  window.vigilZones = state;
  const img = h("img", { id: "zones-img", alt: t("Snapshot of {{name}}", { name: cam.name }) });
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 1 1");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.id = "zones-svg";
  const stage = h("div", { class: "zones-stage" }, img, svg);
  const applied = h("img", { id: "zones-applied", alt: t("As applied by the server"), hidden: true });
  const list = h("ul", { id: "zones-list", class: "zones-list" });
  const toolSel = h("select", { id: "zones-tool", "aria-label": t("Draw") },
    TOOLS().map(([v, text]) => h("option", { value: v }, text)));
  const nameBox = h("input", { id: "zones-name", placeholder: t("Name"), "aria-label": t("Name"), maxlength: 100 });
  const dwellBox = h("input", { id: "zones-dwell", type: "number", min: 1, value: 30, "aria-label": t("Dwell (s)") });
  const previewBox = h("input", { type: "checkbox", id: "zones-preview" });
  // the page's one message area: every error and confirmation of the editor, in the catalogue's words
  const note = h("p", { id: "zones-message", class: "message zones-message", role: "status", hidden: true });
  function say(text, cls = "muted", detail = "") {
    note.textContent = text;
    note.className = `message zones-message ${cls}`;
    note.dataset.detail = detail;
    note.hidden = !text;
  }

  function poly(points, attrs) {
    const isLine = attrs.line;
    const node = document.createElementNS(SVG, isLine ? "polyline" : "polygon");
    node.setAttribute("points", points.map(([x, y]) => `${x},${y}`).join(" "));
    for (const [k, v] of Object.entries(attrs)) if (k !== "line") node.setAttribute(k, v);
    node.setAttribute("vector-effect", "non-scaling-stroke");
    return node;
  }

  function draw() {
    svg.replaceChildren();
    for (const s of state.shapes) {
      const mask = s.kind === "mask";
      const fill = mask ? (state.preview ? "#000" : "rgba(0,0,0,.45)") : s.kind === "line" ? "none" : `${COLORS[s.kind]}33`;
      svg.append(poly(s.points, { line: s.kind === "line", fill, stroke: mask && state.preview ? "none" : COLORS[s.kind],
        "stroke-width": 2, "data-kind": s.kind, class: "zones-shape" }));
    }
    if (state.draft.length) {
      svg.append(poly(state.draft, { line: true, fill: "none", stroke: "#fff", "stroke-width": 2,
        "stroke-dasharray": "4 3", class: "zones-draft" }));
    }
    mount(list, state.shapes.map((s, i) => h("li", { dataset: { kind: s.kind } },
      h("span", { class: "zones-swatch", style: { background: COLORS[s.kind] } }),
      `${TOOLS().find(([v]) => v === s.kind)[1]}${s.name ? ` · ${s.name}` : ""}`,
      s.kind === "loitering" ? ` · ${t("{{n}} s", { n: s.dwell_s })}` : "",
      canEdit ? h("button", { type: "button", class: "link", onclick: () => { state.shapes.splice(i, 1); draw(); } },
        t("Remove")) : null)));
  }

  function finish() {
    const need = state.tool === "line" ? 2 : 3;
    if (state.draft.length < need) {
      say(t("A line takes two points, a zone or mask three: click more points first."), "error");
      return;
    }
    say("");
    const kind = state.tool;
    const n = state.shapes.filter((s) => s.kind === kind).length + 1;
    const name = nameBox.value.trim() || (kind === "mask" ? "" : `${kind}-${n}`);
    state.shapes.push({ kind, name, points: state.draft, dwell_s: Number(dwellBox.value) || 30 });
    state.draft = [];
    nameBox.value = "";
    draw();
  }

  svg.addEventListener("click", (ev) => {
    if (!canEdit) return;
    const r = svg.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width));
    const y = Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height));
    state.draft.push([x, y]);
    if (state.tool === "line" && state.draft.length === 2) finish();
    else draw();
  });
  svg.addEventListener("dblclick", finish);
  toolSel.addEventListener("change", () => {
    state.tool = toolSel.value;
    state.draft = [];
    dwellBox.hidden = state.tool !== "loitering";
    draw();
  });
  previewBox.addEventListener("change", () => {
    state.preview = previewBox.checked;
    draw();
  });

  async function save() {
    const { zones, masks } = documentsFor(state.shapes, setting.zones);
    try {
      await api(`/video/cameras/${cid}/masks`, { method: "PUT", body: masks });
      await api(`/analytics/cameras/${cid}`, { method: "PUT", body: { enabled: setting.enabled, zones } });
      state.saved = true;
      say(t("Saved"), "ok");
    } catch (e) {
      say(problemText("save", e.status), "error", e.message);
      return;
    }
    try {
      applied.src = await imageUrl(id, true);
      applied.hidden = false;
    } catch (e) {
      say(`${t("Saved")} · ${problemText("picture", e.status)}`, "error", e.message);
    }
  }

  mount(el,
    h("div", { class: "view-head" }, h("a", { href: ctx.hashFor("camera", {}, id), class: "crumbs" }, t("← Camera")),
      h("h1", { lang: "zh" }, t("Zones and masks · {{name}}", { name: cam.name }))),
    canEdit ? h("div", { class: "filters" }, toolSel, nameBox, dwellBox,
      h("button", { type: "button", id: "zones-finish", onclick: finish }, t("Finish shape")),
      h("button", { type: "button", onclick: () => { state.draft = []; draw(); } }, t("Cancel shape")),
      h("label", {}, previewBox, " ", t("Preview masks")),
      h("button", { type: "button", class: "primary", id: "zones-save", onclick: save }, t("Save")))
      : h("p", { class: "muted" }, t("Only an administrator changes zones and masks.")),
    note,
    h("div", { class: "grid cols-2" },
      h("section", { class: "card" }, h("h2", {}, t("Snapshot")), stage,
        h("p", { class: "muted" }, t("Click to add points; a line takes two, a zone or mask ends with a double click or Finish shape."))),
      h("section", { class: "card" }, h("h2", {}, t("Rules and masks")), list,
        h("h3", {}, t("As applied by the server")), applied)));
  dwellBox.hidden = true;
  draw();
  try {
    img.src = await imageUrl(id, !canEdit);  // the editor sees the picture under the masks it places
  } catch (e) {
    img.removeAttribute("src");
    img.alt = "";  // no alternative text drawn over the empty stage: the message area says why
    say(problemText("picture", e.status), "error", e.message);
  }
  return { destroy() { for (const i of [img, applied]) if (i.src.startsWith("blob:")) URL.revokeObjectURL(i.src); } };
}
