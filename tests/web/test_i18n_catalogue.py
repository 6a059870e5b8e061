"""The console's message catalogues cover every key the code uses, in English and Simplified Chinese."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vigil.web.catalogue import STATIC, catalogue, missing, placeholders, used_keys

CJK = re.compile(r"[\u4e00-\u9fff]")
SAME_IN_CHINESE = {"ONVIF", "English"}  # a language is named in itself


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_every_key_in_the_code_is_in_the_catalogue(lang: str) -> None:
    assert len(used_keys()) > 300
    assert missing(lang) == []


def test_chinese_messages_are_chinese_and_keep_their_placeholders() -> None:
    zh = catalogue("zh-CN")
    for key in used_keys():
        text = zh[key]
        assert placeholders(text) == placeholders(key), key
        if key not in SAME_IN_CHINESE and re.search("[A-Za-z]{2}", re.sub(r"\{\{\w+\}\}", "", key)):
            assert CJK.search(text), f"{key!r} is not translated: {text!r}"


def test_the_scanner_finds_new_text(tmp_path: Path) -> None:
    """A string added to the code without a catalogue entry is reported (the check above can fail)."""
    (tmp_path / "js" / "views").mkdir(parents=True)
    (tmp_path / "locales").mkdir()
    (tmp_path / "locales" / "zh-CN.json").write_text('{"Cameras": "摄像机"}', encoding="utf-8")
    (tmp_path / "js" / "views" / "x.js").write_text(
        'h("h1", {}, t("Cameras")); table([["Work order", (w) => w.id, "num"]]);\n'
        'kpiCard("Down now", 3); const c = "#3ecf8e"; t("{{n}} orders", { n });\n', encoding="utf-8")
    (tmp_path / "index.html").write_text('<span data-i18n="Sign out">Sign out</span>', encoding="utf-8")
    assert missing("zh-CN", tmp_path) == ["Down now", "Sign out", "Work order", "{{n}} orders"]


def test_pages_load_i18next_before_their_modules() -> None:
    for page in ("index.html", "login.html"):
        html = (STATIC / page).read_text(encoding="utf-8")
        assert html.index("vendor/i18next/i18next.min.js") < html.index('type="module"'), page
    assert (STATIC / "vendor" / "i18next" / "LICENSE").exists()
