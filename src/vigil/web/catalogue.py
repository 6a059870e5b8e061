"""The console's message catalogues: which keys the code uses, and which a catalogue lacks.

The console's i18n keys are the English text itself. They are found in the code as ``t("...")`` calls,
``data-i18n*`` attributes in the HTML pages, the English values of the label tables (``label()`` and
``options()`` translate them), table column headers, field and KPI card labels (the widgets translate those).
``python -m vigil.web.catalogue`` rewrites ``locales/en.json`` (key → key) and lists the keys
``locales/zh-CN.json`` lacks.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

__all__ = ["STATIC", "catalogue", "missing", "placeholders", "used_keys"]

STATIC = Path(__file__).parent / "static"
_STR = r'"((?:[^"\\\n]|\\.)+)"'
_PATTERNS = [
    re.compile(r"\bt\(\s*" + _STR),                    # t("Cameras")
    re.compile(r"\bkpiCard\(\s*" + _STR),              # kpiCard("Online rate", ...)
    re.compile(r"\bchartCard\(\s*" + _STR),            # chartCard("By kind", ...)
    re.compile(r'\[\s*' + _STR + r',\s*\(\w+\)\s*=>'),  # table column ["Header", (row) => ...]
    re.compile(r'\[\s*' + _STR + r',\s*(?=[a-zA-Z(`"])(?!\(\w+\)\s*=>)[^\]\n]{0,200}\]'),  # field ["Label", value]
    re.compile(r"\bempty:\s*" + _STR),                 # table({empty: "..."})
    re.compile(r"\b(?:field|row|sel|item)\(\s*(?:\"\w+\",\s*)?" + _STR),  # form rows and filter selects
    re.compile(r"\bfilterSelect\(\s*\w+,\s*\w+,\s*\"\w+\",\s*" + _STR),  # list-page filters
    re.compile(r'\[\s*"[\w-]+",\s*' + _STR + r'\s*\]'),  # [value, "Label"] option pairs
    re.compile(r"\b(?:countedTitle|topTitle)\(\s*" + _STR),  # list headings
    re.compile(r"^\s*\w+:\s*\[\s*\w+,\s*" + _STR, re.M),  # the nav: ROUTES = {name: [view, "Label", ...]}
    re.compile(r"\bitem\(\s*(?:[\w.]+|\"#[0-9a-fA-F]{3,8}\"),\s*" + _STR),  # legend items: item(colour, "Label")
]
_HTML = re.compile(r'data-i18n(?:-title|-placeholder)?="([^"]+)"')
_TABLE = re.compile(r"export const [A-Z_]+ = \{([^}]*)\}|const (?:TYPES|LABELS|STATES|SLA|FAULTS) = \{([^}]*)\}")
_VALUE = re.compile(r':\s*"((?:[^"\\\n]|\\.)+)"')
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_NOT_TEXT = re.compile(r"^(#[0-9a-fA-F]{3,8}|[\w.-]*\d[\w.-]*|num|mono|wrap|[a-z_]+|[^A-Za-z]*|[\w-]+\.[\w.]+|[a-z]{2}-[A-Z]{2}|[a-z]+(?:-[a-z]+)+)$")  # ids, files, layer names


def _unescape(s: str) -> str:
    return json.loads(f'"{s}"')


def used_keys(static: Path = STATIC) -> set[str]:
    """Every message key the console's JavaScript and HTML use."""
    keys: set[str] = set()
    for js in sorted((static / "js").rglob("*.js")):
        text = js.read_text(encoding="utf-8")
        for pat in _PATTERNS:
            keys.update(_unescape(m.group(1)) for m in pat.finditer(text))
        for m in _TABLE.finditer(text):
            keys.update(_unescape(v) for v in _VALUE.findall(m.group(1) or m.group(2) or ""))
    for page in sorted(static.glob("*.html")):
        keys.update(_HTML.findall(page.read_text(encoding="utf-8")))
    # t("{{n}} s") is a key; "online", "#3ecf8e", "num" (a column class) and ids are not text.
    return {k for k in keys if "{{" in k or not _NOT_TEXT.match(k)}


def catalogue(lang: str, static: Path = STATIC) -> dict[str, str]:
    """The catalogue of ``lang`` (``en`` or ``zh-CN``)."""
    data: dict[str, str] = json.loads((static / "locales" / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def placeholders(text: str) -> set[str]:
    """The ``{{name}}`` placeholders in a message."""
    return set(_PLACEHOLDER.findall(text))


def missing(lang: str, static: Path = STATIC) -> list[str]:
    """Keys the code uses that the catalogue of ``lang`` lacks, sorted."""
    have = catalogue(lang, static)
    return sorted(k for k in used_keys(static) if not have.get(k))


def _main() -> int:
    keys = used_keys()
    zh = catalogue("zh-CN")
    en = {k: k for k in sorted(keys | set(zh))}
    (STATIC / "locales" / "en.json").write_text(json.dumps(en, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    gaps = missing("zh-CN")
    for k in gaps:
        print(json.dumps(k, ensure_ascii=False))
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(_main())
