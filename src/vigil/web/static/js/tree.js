// The region tree in the sidebar: roots are the user's scopes, children load when a node opens.
import { api, hasApi } from "./api.js";
import { h, mount, toast } from "./dom.js";
import { LEVELS, num } from "./labels.js";
import { rememberRegion } from "./regions.js";
import { t } from "./i18n.js";

const MAX_LEVEL = 4;

function cameraCount(node) {
  const c = node.cameras ?? node.camera_count ?? node.total;
  return typeof c === "object" && c !== null ? c.total : c;
}

/** A lazily expanded tree of regions. */
export class RegionTree {
  constructor(container, { onSelect }) {
    this.container = container;
    this.onSelect = onSelect;
    this.rows = new Map(); // code → {li, row, node, open, loaded}
    this.selected = null;
  }

  /** Draw one root per scope (scopes inside another scope are dropped). */
  load(scopes) {
    this.ready = this.loadRoots(scopes);
    return this.ready;
  }

  async loadRoots(scopes) {
    const roots = [...new Set(scopes)].filter((s) => !scopes.some((o) => o !== s && s.startsWith(o))).sort();
    const ul = h("ul", { role: "group" });
    mount(this.container, ul);
    const nodes = await Promise.all(roots.map((code) => this.fetchNode(code)));
    for (const node of nodes) {
      const li = this.nodeItem(node);
      ul.append(li);
      await this.expand(node.code, node);
    }
    this.setSelected(this.selected);
  }

  async fetchNode(code) {
    // depth 2 so that each child's has_children is computed from its own children.
    const out = await api("/regions/tree", { query: { root: code, depth: 2 } });
    return Array.isArray(out) ? out[0] : out;
  }

  nodeItem(node) {
    rememberRegion(node.code, node.name);
    const leaf = node.has_children === false || (node.level ?? MAX_LEVEL) >= MAX_LEVEL;
    const toggle = h("button", {
      class: `tree-toggle${leaf ? " leaf" : ""}`, type: "button", tabindex: -1,
      "aria-label": t("Expand"), onclick: (ev) => { ev.stopPropagation(); this.toggle(node.code); },
    }, "▸");
    const count = cameraCount(node);
    const row = h("div", {
      class: "tree-row", role: "treeitem", tabindex: 0, title: `${t(LEVELS[node.level] || "Region")} ${node.code}`,
      dataset: { code: node.code, level: node.level ?? "" },
      style: { paddingLeft: `${0.4 + ((node.level || 1) - 1) * 0.9}rem` },
      onclick: () => this.onSelect(node.code),
      onkeydown: (ev) => this.onKey(ev, node.code),
    }, toggle, h("span", { class: "tree-name", lang: "zh" }, node.name),
    count !== undefined && count !== null ? h("span", { class: "tree-count" }, num(count)) : null);
    const li = h("li", {}, row);
    this.rows.set(node.code, { li, row, toggle, node, open: false, loaded: false, leaf });
    return li;
  }

  onKey(ev, code) {
    const step = (d) => {
      const rows = [...this.container.querySelectorAll(".tree-row")].filter((r) => r.offsetParent !== null);
      rows[rows.indexOf(ev.currentTarget) + d]?.focus();
    };
    const keys = { Enter: () => this.onSelect(code), " ": () => this.onSelect(code),
      ArrowRight: () => this.expand(code).catch(() => {}), ArrowLeft: () => this.collapse(code),
      ArrowDown: () => step(1), ArrowUp: () => step(-1) };
    if (keys[ev.key]) {
      ev.preventDefault();
      keys[ev.key]();
    }
  }

  toggle(code) {
    const r = this.rows.get(code);
    if (r?.open) this.collapse(code);
    else this.expand(code).catch((e) => toast(t("Regions: {{error}}", { error: e.message })));
  }

  collapse(code) {
    const r = this.rows.get(code);
    if (!r || !r.open) return;
    r.open = false;
    r.toggle.textContent = "▸";
    r.row.setAttribute("aria-expanded", "false");
    const sub = r.li.querySelector(":scope > ul");
    if (sub) sub.hidden = true;
  }

  /** Open a node, loading its children the first time. `known` is an already fetched node. */
  async expand(code, known = null) {
    const r = this.rows.get(code);
    if (!r || r.leaf) return;
    if (r.open) {
      await r.loading;
      return;
    }
    r.open = true;
    r.toggle.textContent = "▾";
    r.row.setAttribute("aria-expanded", "true");
    const old = r.li.querySelector(":scope > ul");
    if (r.loaded && old) {
      old.hidden = false;
      return;
    }
    r.loading = this.loadChildren(r, code, known);
    await r.loading;
  }

  async loadChildren(r, code, known) {
    const sub = h("ul", { role: "group" }, h("li", { class: "loading" }, t("Loading…")));
    r.li.append(sub);
    try {
      const node = known && Array.isArray(known.children) ? known : await this.fetchNode(code);
      const kids = [...(node.children || [])].sort((a, b) => a.code.localeCompare(b.code));
      mount(sub, kids.map((k) => this.nodeItem(k)));
      r.loaded = true;
      this.markRemote(code);
      if (!kids.length) {
        r.leaf = true;
        r.toggle.classList.add("leaf");
        sub.remove();
      }
      this.setSelected(this.selected);
    } catch (e) {
      sub.remove();
      r.open = false;
      r.toggle.textContent = "▸";
      throw e;
    }
  }

  /** Mark `code` and its children when some of their cameras live on an instance below (federation). */
  async markRemote(code) {
    if (!(await hasApi("/api/v1/federation/sources"))) return;
    const out = await api("/federation/sources", { query: { region: code } }).catch(() => null);
    for (const reg of out ? [out.region, ...out.children] : []) {
      const r = this.rows.get(reg.code);
      const far = reg.sources.filter((s) => s.origin);
      if (!r || !far.length || r.row.querySelector(":scope > .tree-remote")) continue;
      const n = far.reduce((sum, s) => sum + s.cameras, 0);
      r.row.dataset.remote = String(n);
      r.row.insertBefore(h("span", {
        class: "tree-remote", title: t("Cameras from instances below: {{origins}}",
          { origins: far.map((s) => `${s.origin} (${num(s.cameras)})`).join(", ") }),
      }, t("{{count}} remote", { count: num(n) })), r.row.querySelector(":scope > .tree-count"));
    }
  }

  /** Open the ancestors of `code` so that it is visible, then highlight it. */
  async reveal(code) {
    this.setSelected(code);
    if (!code) return;
    for (const n of [4, 6, 8]) {
      if (code.length <= n) break;
      const anc = code.slice(0, n);
      if (this.rows.has(anc)) await this.expand(anc);
    }
    this.setSelected(code);
    this.rows.get(code)?.row.scrollIntoView({ block: "nearest" });
  }

  /** Highlight `code` (may be null). */
  setSelected(code) {
    this.selected = code || null;
    for (const [c, r] of this.rows) r.row.classList.toggle("selected", c === this.selected);
  }

  /** The name of a region already shown in the tree, if any. */
  nameOf(code) {
    return this.rows.get(code)?.node.name ?? null;
  }
}
