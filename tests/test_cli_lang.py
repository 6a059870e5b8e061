"""The CLI in Chinese and English: `--lang` (anywhere), $VIGIL_LANG and `vigil lang set` choose the language of
error lines and of the daily KPI report, through the gettext catalogue (vigil/i18n/locale)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest
from typer.testing import CliRunner

from vigil.cli import app
from vigil.core.context import Vigil
from vigil.core.models import Region
from vigil.i18n import LANGUAGES, compile_catalogue, take_lang_option, translate_line

runner = CliRunner()


def _err(args: list[str], env: dict[str, str] | None = None) -> str:
    r = runner.invoke(app, args, env=env)
    assert r.exit_code == 2 and "Traceback" not in r.output
    return r.output.strip()


@pytest.mark.parametrize(("args", "line"), [
    (["--lang", "zh-CN", "report", "daily", "--region", "1", "--date", "x"], "错误: 日期 'x'：应为 YYYY-MM-DD 格式"),
    (["report", "daily", "--date", "2026-01-01", "--lang=zh-CN"],
     "错误: 缺少选项 '--region'。 （参见 'vigil report daily --help'）"),
    (["nosuch", "--lang", "zh"], "错误: 没有命令 'nosuch'。 （参见 'vigil --help'）"),
    (["kpi", "--bogus", "--lang", "zh-CN"], "错误: 没有选项：--bogus （参见 'vigil kpi --help'）"),
    (["report", "daily", "--region", "1", "--date", "x"], "error: date 'x': expected YYYY-MM-DD"),
    (["--lang", "fr", "kpi"], "error: unknown language 'fr'; choose one of en, zh-CN"),
])
def test_error_lines_follow_lang(args, line):
    assert _err(args) == line


def test_vigil_lang_env_and_missing_database(tmp_path):
    out = _err(["user", "list", "--home", str(tmp_path / "none")], env={"VIGIL_LANG": "zh-CN"})
    assert out.startswith("错误: ") and "处没有数据库：请先运行 `vigil init`" in out
    assert _err(["user", "list", "--home", str(tmp_path / "none")], env={"VIGIL_LANG": ""}).startswith(
        "error: no database at ")   # one run's language does not leak into the next


def test_installed_script_speaks_chinese(tmp_path):
    env = {**os.environ, "VIGIL_HOME": str(tmp_path / "none")}
    r = subprocess.run([sys.executable, "-m", "vigil", "kpi", "--lang", "zh-CN"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("错误: ") and "数据库" in r.stderr and not r.stdout


def test_daily_report_in_the_instance_language_and_overridden(tmp_path):
    home = str(tmp_path / "home")
    assert runner.invoke(app, ["init", "--home", home, "--region", "5301"]).exit_code == 0
    v = Vigil.open(None, home)
    with v.db.session() as s:
        s.add_all([Region(code="530102", name="五华区", level=2, parent_code="5301"),
                   Region(code="53010201", name="金马街道", level=3, parent_code="530102")])
    v.close()
    r = runner.invoke(app, ["lang", "set", "zh-CN", "--home", home])
    assert r.exit_code == 0 and "语言：zh-CN" in r.output
    r = runner.invoke(app, ["report", "daily", "--region", "53010201", "--date", "2026-11-01", "--out",
                            str(tmp_path / "zh"), "--home", home])
    assert r.exit_code == 0, r.output
    assert "HTML 文件：" in r.output and "PDF 文件：" in r.output
    html = (tmp_path / "zh" / "daily-53010201-2026-11-01.html").read_text(encoding="utf-8")
    for heading in ("<h1>每日运行报告: 金马街道", "<h2>关键指标</h2>", "<h2>当日告警 (0)</h2>", "在线率（按时间加权）",
                    '<html lang="zh-CN">'):
        assert heading in html
    assert "Daily health report" not in html and "Key figures" not in html
    r = runner.invoke(app, ["--lang", "en", "report", "daily", "--region", "53010201", "--date",
                            str(date(2026, 11, 1)), "--out", str(tmp_path / "en"), "--home", home])
    assert r.exit_code == 0 and "HTML: " in r.output
    html = (tmp_path / "en" / "daily-53010201-2026-11-01.html").read_text(encoding="utf-8")
    assert "<h2>Key figures</h2>" in html and "关键指标" not in html
    assert runner.invoke(app, ["lang", "show", "--home", home]).output.split() == [
        "instance:", "zh-CN", "this", "run:", "zh-CN"]


def test_catalogue_compiles_and_placeholders_round_trip():
    assert LANGUAGES == ("en", "zh-CN") and compile_catalogue("zh-CN").startswith(b"\xde\x12\x04\x95")
    assert translate_line("region 530199 does not exist", "zh-CN") == "区域 530199 不存在"
    assert translate_line("camera 5301 not found", "zh-CN") == "未找到摄像机 5301"
    assert translate_line("a line the catalogue lacks", "zh-CN") == "a line the catalogue lacks"
    assert take_lang_option(["a", "--lang", "zh", "b", "--", "--lang", "x"]) == (["a", "b", "--", "--lang", "x"], "zh")


def test_api_daily_report_in_the_callers_language(sqlite_vigil):
    from fastapi.testclient import TestClient

    from factories import TOWN1, build_world
    from vigil.api.app import create_app

    w = build_world(sqlite_vigil)
    client = TestClient(create_app(sqlite_vigil))
    h = {"Authorization": f"Bearer {w.tokens[TOWN1]}"}
    q = {"region": TOWN1, "date": "2026-01-01"}
    assert "<h2>Key figures</h2>" in client.get("/api/v1/health/report/daily", params=q, headers=h).text
    assert client.patch("/api/v1/auth/me", json={"locale": "zh-CN"}, headers=h).status_code == 200
    assert "<h2>关键指标</h2>" in client.get("/api/v1/health/report/daily", params=q, headers=h).text
    en = client.get("/api/v1/health/report/daily", params={**q, "lang": "en"}, headers=h)
    assert "<h2>Key figures</h2>" in en.text
    assert client.get("/api/v1/health/report/daily", params={**q, "lang": "fr"}, headers=h).status_code == 422
