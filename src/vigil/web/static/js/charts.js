// Small canvas charts (bars, lines, donut) drawn by hand: no library, crisp on HiDPI, themed.
import { PALETTE } from "./labels.js";
import { cssVar } from "./theme.js";
import { t } from "./i18n.js";

/** A chart bound to a <canvas>; it redraws on resize and on theme change. */
class Chart {
  constructor(canvas, spec) {
    this.canvas = canvas;
    this.spec = spec;
    this.ro = new ResizeObserver(() => this.draw());
    this.ro.observe(canvas);
    this.onTheme = () => this.draw();
    window.addEventListener("vigil-theme", this.onTheme);
    canvas.addEventListener("pointermove", (ev) => this.hover(ev));
    canvas.addEventListener("pointerleave", () => { this.hoverAt = null; this.draw(); });
    this.draw();
  }

  destroy() {
    this.ro.disconnect();
    window.removeEventListener("vigil-theme", this.onTheme);
  }

  update(spec) {
    this.spec = spec;
    this.draw();
  }

  setup() {
    const r = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.w = Math.max(1, r.width);
    this.h = Math.max(1, r.height);
    this.canvas.width = Math.round(this.w * dpr);
    this.canvas.height = Math.round(this.h * dpr);
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.w, this.h);
    ctx.font = `12px ${cssVar("--font") || "sans-serif"}`;
    this.text = cssVar("--text") || "#e3ebf5";
    this.muted = cssVar("--muted") || "#8ea3bb";
    this.line = cssVar("--line") || "#25384f";
    return ctx;
  }

  hover(ev) {
    const r = this.canvas.getBoundingClientRect();
    this.hoverAt = [ev.clientX - r.left, ev.clientY - r.top];
    this.draw();
  }

  draw() {}
}

function fmtDefault(v) {
  return Math.abs(v) >= 1000 ? v.toLocaleString("en-GB") : String(Math.round(v * 100) / 100);
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((k) => k * p).find((x) => x >= v);
}

function emptyNote(ctx, c, text) {
  ctx.fillStyle = c.muted;
  ctx.textAlign = "center";
  ctx.fillText(text, c.w / 2, c.h / 2);
  ctx.textAlign = "start";
}

/** Horizontal bars: {labels, values, colors?, format?, max?}. One bar per row, value at its end. */
export class BarChart extends Chart {
  draw() {
    const ctx = this.setup();
    const { labels = [], values = [], colors, format = fmtDefault, max } = this.spec;
    this.canvas.dataset.bars = String(values.length);
    if (!values.length) return emptyNote(ctx, this, t("No data"));
    const labelW = Math.min(this.w * 0.38, Math.max(...labels.map((l) => ctx.measureText(l).width)) + 12);
    const valueW = Math.max(...values.map((v) => ctx.measureText(format(v)).width)) + 10;
    const top = 6;
    const rowH = Math.min(28, (this.h - top * 2) / values.length);
    const barW = Math.max(10, this.w - labelW - valueW - 8);
    const vmax = max ?? niceMax(Math.max(...values, 0));
    ctx.textBaseline = "middle";
    values.forEach((v, i) => {
      const y = top + i * rowH;
      const bw = vmax ? (Math.max(0, v) / vmax) * barW : 0;
      ctx.fillStyle = this.muted;
      ctx.fillText(truncate(ctx, labels[i], labelW - 8), 0, y + rowH / 2);
      ctx.fillStyle = this.line;
      ctx.fillRect(labelW, y + rowH * 0.2, barW, rowH * 0.6);
      ctx.fillStyle = colors?.[i] || PALETTE[i % PALETTE.length];
      ctx.fillRect(labelW, y + rowH * 0.2, bw, rowH * 0.6);
      ctx.fillStyle = this.text;
      ctx.fillText(format(v), labelW + bw + 6, y + rowH / 2);
    });
    ctx.textBaseline = "alphabetic";
    return null;
  }
}

function truncate(ctx, text, w) {
  let t = String(text ?? "");
  if (ctx.measureText(t).width <= w) return t;
  while (t.length > 1 && ctx.measureText(`${t}…`).width > w) t = t.slice(0, -1);
  return `${t}…`;
}

/** Lines over time: {x: [Date|string], series: [{name, values, color}], min?, max?, format?}. */
export class LineChart extends Chart {
  draw() {
    const ctx = this.setup();
    const { x = [], series = [], format = fmtDefault } = this.spec;
    const all = series.flatMap((s) => s.values).filter((v) => v !== null && Number.isFinite(v));
    this.canvas.dataset.points = String(all.length);
    if (!all.length) return emptyNote(ctx, this, t("No data for this period"));
    const lo = this.spec.min ?? Math.min(...all);
    const hi = this.spec.max ?? Math.max(...all);
    const span = hi - lo || 1;
    const pad = { l: ctx.measureText(format(hi)).width + 12, r: 12, t: 22, b: 22 };
    const W = this.w - pad.l - pad.r;
    const H = this.h - pad.t - pad.b;
    const px = (i) => pad.l + (x.length > 1 ? (i / (x.length - 1)) * W : W / 2);
    const py = (v) => pad.t + H - ((v - lo) / span) * H;
    this.axes(ctx, { lo, span, pad, W, H, py, format, x, px });
    series.forEach((s, si) => {
      ctx.strokeStyle = s.color || PALETTE[si % PALETTE.length];
      ctx.lineWidth = 2;
      ctx.beginPath();
      let pen = false;
      s.values.forEach((v, i) => {
        if (v === null || !Number.isFinite(v)) { pen = false; return; }
        if (pen) ctx.lineTo(px(i), py(v)); else ctx.moveTo(px(i), py(v));
        pen = true;
      });
      ctx.stroke();
    });
    this.legend(ctx, series, pad.l);
    this.hoverLine(ctx, { px, py, pad, H, format });
    return null;
  }

  axes(ctx, { lo, span, pad, W, H, py, format, x, px }) {
    ctx.strokeStyle = this.line;
    ctx.fillStyle = this.muted;
    ctx.lineWidth = 1;
    ctx.textBaseline = "middle";
    for (let k = 0; k <= 4; k += 1) {
      const v = lo + (span * k) / 4;
      const y = py(v);
      ctx.beginPath(); ctx.moveTo(pad.l, y); ctx.lineTo(pad.l + W, y); ctx.stroke();
      ctx.fillText(format(v), 2, y);
    }
    ctx.textBaseline = "top";
    const every = Math.max(1, Math.ceil(x.length / Math.max(2, Math.floor(W / 90))));
    x.forEach((t, i) => {
      if (i % every) return;
      const text = shortTime(t);
      const tw = ctx.measureText(text).width;
      ctx.fillText(text, Math.min(Math.max(0, px(i) - tw / 2), this.w - tw - 2), pad.t + H + 6);
    });
    ctx.textBaseline = "alphabetic";
  }

  legend(ctx, series, x0) {
    let x = x0;
    series.forEach((s, si) => {
      ctx.fillStyle = s.color || PALETTE[si % PALETTE.length];
      ctx.fillRect(x, 6, 10, 10);
      ctx.fillStyle = this.text;
      ctx.fillText(s.name, x + 14, 15);
      x += ctx.measureText(s.name).width + 30;
    });
  }

  hoverLine(ctx, { px, py, pad, H, format }) {
    const { x = [], series = [] } = this.spec;
    if (!this.hoverAt || !x.length) return;
    let best = 0;
    x.forEach((_, i) => { if (Math.abs(px(i) - this.hoverAt[0]) < Math.abs(px(best) - this.hoverAt[0])) best = i; });
    ctx.strokeStyle = this.muted;
    ctx.setLineDash([3, 3]);
    ctx.beginPath(); ctx.moveTo(px(best), pad.t); ctx.lineTo(px(best), pad.t + H); ctx.stroke();
    ctx.setLineDash([]);
    const lines = [shortTime(x[best]), ...series.map((s) => `${s.name}: ${s.values[best] === null
      ? "—" : format(s.values[best])}`)];
    const w = Math.max(...lines.map((l) => ctx.measureText(l).width)) + 12;
    const bx = Math.min(px(best) + 8, this.w - w - 2);
    ctx.fillStyle = cssVar("--panel") || "#142030";
    ctx.strokeStyle = this.line;
    ctx.fillRect(bx, pad.t, w, lines.length * 16 + 8);
    ctx.strokeRect(bx, pad.t, w, lines.length * 16 + 8);
    ctx.fillStyle = this.text;
    lines.forEach((l, i) => ctx.fillText(l, bx + 6, pad.t + 16 + i * 16));
    series.forEach((s, si) => {
      const v = s.values[best];
      if (v === null || !Number.isFinite(v)) return;
      ctx.fillStyle = s.color || PALETTE[si % PALETTE.length];
      ctx.beginPath(); ctx.arc(px(best), py(v), 3.5, 0, Math.PI * 2); ctx.fill();
    });
  }
}

function shortTime(t) {
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  const p = (v) => String(v).padStart(2, "0");
  return `${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A donut with a legend: {labels, values, colors?, center?}. */
export class DonutChart extends Chart {
  draw() {
    const ctx = this.setup();
    const { labels = [], values = [], colors, center } = this.spec;
    const total = values.reduce((a, b) => a + b, 0);
    this.canvas.dataset.slices = String(values.filter((v) => v > 0).length);
    if (!total) return emptyNote(ctx, this, t("No data"));
    const r = Math.min(this.h / 2 - 8, this.w / 5.5);
    const cx = r + 8;
    const cy = this.h / 2;
    let a = -Math.PI / 2;
    values.forEach((v, i) => {
      const da = (v / total) * Math.PI * 2;
      ctx.beginPath();
      ctx.arc(cx, cy, r, a, a + da);
      ctx.arc(cx, cy, r * 0.62, a + da, a, true);
      ctx.closePath();
      ctx.fillStyle = colors?.[i] || PALETTE[i % PALETTE.length];
      ctx.fill();
      a += da;
    });
    ctx.fillStyle = this.text;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.font = `600 16px ${cssVar("--font") || "sans-serif"}`;
    ctx.fillText(center ?? total.toLocaleString("en-GB"), cx, cy);
    ctx.font = `12px ${cssVar("--font") || "sans-serif"}`;
    ctx.textAlign = "start";
    const lx = cx + r + 18;
    const rowH = Math.min(20, (this.h - 8) / Math.max(1, labels.length));
    labels.forEach((l, i) => {
      const y = cy - (labels.length * rowH) / 2 + i * rowH + rowH / 2;
      ctx.fillStyle = colors?.[i] || PALETTE[i % PALETTE.length];
      ctx.fillRect(lx, y - 5, 10, 10);
      ctx.fillStyle = this.text;
      const tail = `  ${values[i].toLocaleString("en-GB")} · ${((values[i] / total) * 100).toFixed(1)} %`;
      const room = this.w - lx - 20 - ctx.measureText(tail).width;
      ctx.fillText(`${truncate(ctx, l, room)}${tail}`, lx + 16, y);
    });
    ctx.textBaseline = "alphabetic";
    return null;
  }
}
