// Hourly traffic of one road node drawn by hand in SVG: grouped bars of vehicle counts per direction, and
// the longest queue (metres) as a line on its own scale. Each bar and point carries its value in data-value.
const NS = "http://www.w3.org/2000/svg";
const W = 720, H = 220, PAD = { left: 36, right: 44, top: 14, bottom: 26 };
const COLOURS = ["#4f9dff", "#3ecf8e", "#f5a623", "#c678dd"];

function el(tag, attrs = {}, text = null) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== null) e.textContent = text;
  return e;
}

/** Scale top: a round number at or above ``v`` (1 at least). */
function top(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= v);
}

/**
 * Draw into ``svg``: ``buckets`` (ISO starts), ``directions`` ({direction: counts}), ``queue`` (metres or
 * null per bucket) and ``words`` (a function translating the English labels).
 */
export function drawTraffic(svg, { buckets, directions, queue, words }) {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const n = buckets.length;
  const dirs = Object.keys(directions).sort();
  const plotW = W - PAD.left - PAD.right, plotH = H - PAD.top - PAD.bottom;
  const cmax = top(Math.max(0, ...dirs.flatMap((d) => directions[d])));
  const qmax = top(Math.max(0, ...queue.filter((x) => x !== null)));
  svg.dataset.countMax = cmax;
  svg.dataset.plotHeight = plotH;
  const slot = plotW / Math.max(1, n), barW = (slot * 0.8) / Math.max(1, dirs.length);
  svg.append(el("line", { x1: PAD.left, y1: PAD.top + plotH, x2: PAD.left + plotW, y2: PAD.top + plotH,
    stroke: "currentColor", "stroke-opacity": 0.4 }));
  svg.append(el("text", { x: 2, y: PAD.top + 4, "font-size": 10, fill: "currentColor", class: "axis-count" }, String(cmax)));
  svg.append(el("text", { x: W - 2, y: PAD.top + 4, "font-size": 10, "text-anchor": "end", fill: "currentColor",
    class: "axis-queue" }, `${qmax} m`));
  dirs.forEach((d, j) => {
    const g = el("g", { class: "bars", "data-direction": d, fill: COLOURS[j % COLOURS.length] });
    directions[d].forEach((v, i) => {
      const hgt = (v / cmax) * plotH, x = PAD.left + i * slot + slot * 0.1 + j * barW;
      const bar = el("rect", { class: "bar", x, y: PAD.top + plotH - hgt, width: Math.max(1, barW - 1), height: hgt,
        "data-bucket": i, "data-value": v });
      bar.append(el("title", {}, `${words(d)} ${new Date(buckets[i]).getHours()}:00 · ${v}`));
      g.append(bar);
      if (v > 0) {
        g.append(el("text", { class: "bar-label", x: x + barW / 2, y: PAD.top + plotH - hgt - 2, "font-size": 9,
          "text-anchor": "middle", fill: "currentColor", "data-bucket": i, "data-direction": d }, String(v)));
      }
    });
    svg.append(g);
  });
  const pts = queue.map((m, i) => (m === null ? null
    : [PAD.left + (i + 0.5) * slot, PAD.top + plotH - (m / qmax) * plotH, m, i])).filter(Boolean);
  if (pts.length) {
    svg.append(el("polyline", { class: "queue-line", fill: "none", stroke: "#ff6b6b", "stroke-width": 2,
      points: pts.map(([x, y]) => `${x},${y}`).join(" ") }));
    for (const [x, y, m, i] of pts) {
      const c = el("circle", { class: "queue-point", cx: x, cy: y, r: 3, fill: "#ff6b6b", "data-bucket": i, "data-value": m });
      c.append(el("title", {}, `${words("Longest queue")} ${m} m`));
      svg.append(c);
    }
  }
  buckets.forEach((b, i) => {
    const hour = new Date(b).getHours();
    if (i % 3 === 0) {
      svg.append(el("text", { class: "hour-label", x: PAD.left + (i + 0.5) * slot, y: H - 8, "font-size": 10,
        "text-anchor": "middle", fill: "currentColor" }, `${String(hour).padStart(2, "0")}:00`));
    }
  });
  const legend = [...dirs.map((d, j) => [words(d), COLOURS[j % COLOURS.length]]), [words("Longest queue"), "#ff6b6b"]];
  legend.forEach(([label, colour], k) => {
    svg.append(el("rect", { x: PAD.left + 8 + k * 130, y: 2, width: 10, height: 10, fill: colour }));
    svg.append(el("text", { class: "legend", x: PAD.left + 22 + k * 130, y: 11, "font-size": 10, fill: "currentColor" }, label));
  });
}
