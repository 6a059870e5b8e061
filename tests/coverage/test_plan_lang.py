"""`vigil plan ... --lang zh-CN` writes report.html with Chinese headings (vigil.i18n catalogue)."""

from __future__ import annotations

from typer.testing import CliRunner

from vigil.cli import app as cli_app

runner = CliRunner()


def test_plan_report_in_chinese(kunming_community, one_model, tmp_path):
    out = tmp_path / "out"
    r = runner.invoke(cli_app, ["plan", str(kunming_community), "--out", str(out), "--catalog", str(one_model),
                                "--spacing", "8", "--time-limit", "5", "--level", "detect", "--solver", "greedy",
                                "--lang", "zh-CN"])
    assert r.exit_code == 0, r.output
    html = (out / "report.html").read_text(encoding="utf-8")
    for text in ('<html lang="zh-CN">', "<h1>覆盖规划: ", "<h2>概要</h2>", "<h2>社区</h2>", "<th>规划前</th>"):
        assert text in html
    assert "覆盖率 " in html and "台摄像机（费用 " in html and "Coverage plan" not in html
