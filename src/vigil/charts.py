"""Matplotlib set-up shared by every report: the Agg backend and a font that can draw Chinese names.

A Noto CJK font is used when installed (Debian ``fonts-noto-cjk``); otherwise DejaVu Sans,
where CJK glyphs show as boxes and nothing fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

__all__ = ["cjk_font", "report_fonts"]


@cache
def cjk_font() -> str | None:
    """The name of an installed font with CJK glyphs, if any."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for want in ("Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Serif CJK SC", "WenQuanYi Zen Hei",
                 "AR PL UMing CN"):
        if want in names:
            return want
    return None


@contextmanager
def report_fonts() -> Iterator[None]:
    """Draw with the Agg backend and a CJK-capable font inside this block."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import rc_context

    fam = [f for f in (cjk_font(), "DejaVu Sans") if f]
    with rc_context({"font.family": "sans-serif", "font.sans-serif": fam, "axes.unicode_minus": False,
                     "pdf.fonttype": 3}):
        yield
