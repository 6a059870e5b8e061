// Cameras down now: every in-service camera of the region that does not answer, longest first, paged, with the
// true count beside the number in service and those not probed yet.
import { api } from "../api.js";
import { h, message, mount } from "../dom.js";
import { t } from "../i18n.js";
import { duration, num, when } from "../labels.js";
import { regionNames } from "../regions.js";
import { table } from "../widgets.js";
import { countedTitle, listPager, paging } from "./listkit.js";

export const regionAware = true;

/** Render the cameras-down page. */
export async function render(el, route, ctx) {
  let p = route.params;
  const head = h("div", { class: "view-head" });
  const body = h("div", { id: "down-table" }, message(t("Loading…")));
  mount(el, head, body);

  async function load() {
    const pg = paging(p);
    try {
      const st = await api("/health/status", { query: { region: p.get("region"), limit: pg.limit, offset: pg.offset } });
      const counts = st.counts || {};
      const total = counts.down || 0;
      const names = await regionNames(st.down.map((c) => c.region_code));
      const now = Date.now();
      mount(head, countedTitle("Cameras down", total, "down-total"),
        h("span", { class: "muted", id: "down-of" }, t("of {{n}} in service · {{unknown}} not probed yet", {
          n: num(Object.values(counts).reduce((a, b) => a + b, 0)), unknown: num(counts.unknown || 0) })));
      mount(body, table([
        ["Camera", (c) => h("a", { href: ctx.hashFor("camera", {}, c.camera_id), lang: "zh" }, c.name)],
        ["ID", (c) => h("span", { class: "mono" }, c.camera_id)],
        ["Region", (c) => h("span", { lang: "zh" }, names.get(c.region_code) || c.region_code)],
        ["Reason", (c) => h("span", { class: "badge bad" }, t(c.reason || "down"))],
        ["Since", (c) => when(c.since)], ["For", (c) => duration((now - new Date(c.since)) / 1000), "num"],
      ], st.down, { empty: "Every probed camera is online.", cls: "down-now",
        rowAttrs: (c) => ({ dataset: { id: c.camera_id } }) }),
      listPager(ctx, total, pg, "down-page"));
    } catch (e) {
      mount(body, message(t("Could not load the cameras down: {{error}}", { error: e.message }), "error"));
    }
  }

  load();
  return { update(r) { p = r.params; load(); } };
}
