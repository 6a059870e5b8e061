"""What overflows sideways on a console page: one JS expression shared by the browser tests and the screenshots.

The page itself is not enough to look at: the console's main panel scrolls on its own, so a card that is too
wide shows a scroll bar in the panel while ``document.documentElement`` still fits. The expression names every
box that is wider inside than out: the document, any scrolling panel, and every card (``.card``), as
``"selector: scrollWidth > clientWidth"``; an empty list means nothing overflows.
"""

from __future__ import annotations

__all__ = ["OVERFLOW_JS"]

OVERFLOW_JS = """
const out = [];
const name = (e) => e === document.documentElement ? "html"
  : e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.classList.length ? "." + [...e.classList].join(".") : "");
const wide = (e) => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1;
const de = document.documentElement;
if (de.scrollWidth > de.clientWidth) out.push(`html: ${de.scrollWidth} > ${de.clientWidth}`);
for (const e of document.querySelectorAll("body *")) {
  if (e.closest(".maplibregl-map, .wall-tile, svg, video, pre, .scroll-x")) continue;
  const s = getComputedStyle(e);
  const panel = ["auto", "scroll"].includes(s.overflowX) && e.scrollWidth > e.clientWidth + 1;
  if ((panel || e.classList.contains("card")) && wide(e) && e.offsetParent !== null)
    out.push(`${name(e)}: ${e.scrollWidth} > ${e.clientWidth}`);
}
return out;
"""
