// Tiny DOM helpers. Text always goes in as text nodes, never as HTML.

const PROPS = new Set(["value", "checked", "selected", "disabled", "hidden", "indeterminate"]);

/** Create an element: h("a", {href: "#", class: "x", onclick: fn}, "text", child, [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style") Object.assign(el.style, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

/** Append children (nodes, strings, numbers, nested arrays); null/false are skipped. */
export function append(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Replace all children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Call `fn` once calls stop for `ms`. */
export function debounce(fn, ms) {
  let t = 0;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

/** A <select> with a leading "any" option. `options` are [value, label] pairs. */
export function select(attrs, anyLabel, options, current) {
  return h("select", attrs,
    anyLabel === null ? null : h("option", { value: "" }, anyLabel),
    options.map(([v, label]) => h("option", { value: v, selected: String(v) === String(current ?? "") }, label)));
}

/** A status message block (loading, empty, error). */
export function message(text, cls = "muted") {
  return h("p", { class: `message ${cls}` }, text);
}

/** Show a transient error in the corner. */
export function toast(text, ms = 6000) {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.t);
  toast.t = setTimeout(() => { el.hidden = true; }, ms);
}
