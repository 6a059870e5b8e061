"""Plan job stages: the server sends keys (vigil.coverage.progress.STAGE_KEYS); the console names each through
its catalogue (plan_form.js STAGE_TEXT), the CLI through gettext: Chinese in a Chinese run, the key in English."""

from __future__ import annotations

import json
import re

import pytest
from rich.console import Console

from vigil.coverage import city_cli
from vigil.coverage import cli as plan_cli
from vigil.coverage.plan import STAGES
from vigil.coverage.progress import CITY_STAGE_WEIGHTS, STAGE_KEYS, stage_name
from vigil.i18n import cli_language, translator
from vigil.web.catalogue import STATIC

CJK = re.compile(r"[\u4e00-\u9fff]")


def _console_stage_text() -> dict[str, str]:
    """plan_form.js's STAGE_TEXT: stage key -> the English catalogue key it is shown with."""
    js = (STATIC / "js" / "views" / "plan_form.js").read_text(encoding="utf-8")
    table = re.search(r"const STAGE_TEXT = \{(.*?)\n\};", js, re.S)
    assert table, "STAGE_TEXT not found in plan_form.js"
    return dict(re.findall(r'(\w+): \(\) => t\("([^"]+)"\)', table.group(1)))


def test_every_stage_a_job_reports_has_a_key() -> None:
    assert set(STAGES) | set(CITY_STAGE_WEIGHTS) | {"queue"} == set(STAGE_KEYS)


def test_the_console_names_every_stage_in_chinese() -> None:
    text = _console_stage_text()
    zh = json.loads((STATIC / "locales" / "zh-CN.json").read_text(encoding="utf-8"))
    assert set(text) == set(STAGE_KEYS)
    for key, english in text.items():
        assert CJK.search(zh.get(english, "")), f"stage {key}: {english!r} has no Chinese text"


@pytest.mark.parametrize("key", STAGE_KEYS)
def test_the_cli_names_every_stage_through_gettext(key: str) -> None:
    assert stage_name(key, translator("en")) == key  # English: the key, as the CLI always printed it
    zh = stage_name(key, translator("zh-CN"))
    assert CJK.search(zh), f"stage {key} is not translated: {zh!r}"


@pytest.fixture
def chinese_run():  # type: ignore[no-untyped-def]
    cli_language.start("zh-CN")
    yield
    cli_language.start(None)


def test_a_chinese_cli_run_prints_its_stages_in_chinese(chinese_run, monkeypatch) -> None:
    out = Console(record=True, width=200, force_terminal=False)
    monkeypatch.setattr(plan_cli, "console", out)
    monkeypatch.setattr(city_cli, "console", out)
    with plan_cli._progress(30.0) as (_, cb):
        for stage in STAGES:
            cb(stage, "start")
            cb(stage, "done")
    with plan_cli._progress(30.0) as (_, cb):
        cb("read", "start")  # a stage still running shows where it started
    city_cli._progress("curves", 0.5)
    text = out.export_text()
    assert "读取区域数据（从 0 % 起）" in text and "生成报告（至 100 %）" in text, text
    assert "为每个站点估价" in text and " 50.0 %" in text
    assert not re.search(r"\b(read|optimise|report|curves|from|to)\b", text), text
