"""Add (or reword) entries of a server catalogue: ``python scripts/po_add.py ENTRIES.json [--lang zh_CN]``.

The catalogue (``src/vigil/i18n/locale/<lang>/LC_MESSAGES/vigil.po``) is edited by this script only, because
several people add to it at once: it re-reads the file just before writing, keeps every line it does not
change, rewords an entry already there in place and appends the new ones under a ``# section`` comment.
``ENTRIES.json`` is a list of ``{"section": "...", "entries": [[msgctxt or null, msgid, msgstr], ...]}``.
The catalogue is compiled in memory by ``vigil.i18n`` (Babel) when first used: there is no ``.mo`` to build.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from babel.messages.pofile import escape, read_po

ROOT = Path(__file__).resolve().parent.parent


def _block(ctx: str | None, msgid: str, msgstr: str) -> str:
    head = f"msgctxt {escape(ctx)}\n" if ctx else ""
    return f"{head}msgid {escape(msgid)}\nmsgstr {escape(msgstr)}\n"


def add(po: Path, sections: list[dict], *, locale: str) -> tuple[int, int]:
    """Write ``sections`` into ``po``; returns (added, reworded)."""
    text = po.read_text(encoding="utf-8")  # re-read now: others edit the catalogue too
    with po.open("rb") as fh:
        known = {(m.context, m.id): m.string for m in read_po(fh, locale=locale) if m.id}
    added = reworded = 0
    tail: list[str] = []
    for section in sections:
        fresh = []
        for ctx, msgid, msgstr in section["entries"]:
            key = (ctx or None, msgid)
            if key not in known:
                fresh.append(_block(ctx, msgid, msgstr))
                known[key] = msgstr
                added += 1
            elif known[key] != msgstr:
                ctx_line = f"msgctxt {re.escape(escape(ctx))}\n" if ctx else ""
                rx = re.compile(rf"(^{ctx_line}msgid {re.escape(escape(msgid))}\nmsgstr )\".*\"$", re.M)
                quoted = escape(msgstr)
                text, n = rx.subn(lambda m, q=quoted: m.group(1) + q, text, count=1)
                if n != 1:
                    sys.exit(f"cannot reword {msgid!r}: not on two plain lines")
                reworded += 1
        if fresh:
            tail.append(f"\n\n# {section['section']}\n" + "\n".join(fresh))
    po.write_text(text.rstrip("\n") + "\n" + "".join(tail), encoding="utf-8")
    return added, reworded


def main() -> None:
    """The command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("entries", type=Path)
    ap.add_argument("--lang", default="zh_CN")
    args = ap.parse_args()
    po = ROOT / "src" / "vigil" / "i18n" / "locale" / args.lang / "LC_MESSAGES" / "vigil.po"
    added, reworded = add(po, json.loads(args.entries.read_text(encoding="utf-8")), locale=args.lang)
    print(f"{po.relative_to(ROOT)}: {added} added, {reworded} reworded")


if __name__ == "__main__":
    main()
