"""Error messages in the caller's language: the zh-CN catalogue's library errors, problem+json ``detail`` by
``Accept-Language`` (the English kept as ``detail_en``) and the CLI's error line under ``--lang zh-CN``."""

from __future__ import annotations

import re
import typing

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from pydantic_core import PydanticKnownError
from pydantic_core.core_schema import ErrorType
from typer.testing import CliRunner

from factories import TOWN1, build_world
from vigil.api.app import create_app
from vigil.api.problems import request_lang
from vigil.cli import app
from vigil.i18n import translate_line
from vigil.i18n.validation import VALIDATION_CONTEXT

_NAME = re.compile(r"\{(\w+)\}")


def _catalogue():
    from vigil import i18n

    path = i18n._LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "vigil.po"
    with path.open("rb") as fh:
        return [m for m in read_po(fh, locale="zh_CN") if m.id and isinstance(m.id, str)]


def _pydantic_names(kind: str) -> set[str]:
    """The ``ctx`` names pydantic's own template of the error type ``kind`` shows."""
    ctx: dict[str, object] = {}
    while True:
        try:
            return set(_NAME.findall(PydanticKnownError(kind, ctx or None).message_template))  # type: ignore[arg-type]
        except TypeError as exc:  # "StringTooLong: 'max_length' required in context" (or "must be a String")
            name = re.search(r"'(\w+)' (required in context|context value must be)", str(exc))
            assert name, exc
            ctx[name.group(1)] = "1" if name.group(2).startswith("context") else 1


def test_every_msgid_and_msgstr_carry_the_same_placeholders():
    messages = _catalogue()
    assert len(messages) > 250
    kinds = set(typing.get_args(ErrorType))
    for m in messages:
        assert m.string, m.id
        if m.context == VALIDATION_CONTEXT:  # msgid a pydantic error type, msgstr some of its ctx values
            assert m.id in kinds or m.id == "or", m.id
            if m.id != "or":
                assert set(_NAME.findall(m.string)) <= _pydantic_names(m.id), m.id
            continue
        names = sorted(_NAME.findall(m.id))
        assert sorted(_NAME.findall(m.string)) == names, m.id
        m.string.format(**dict.fromkeys(names, "x"))  # no stray braces
        if names:  # a pattern needs enough literal text not to swallow unrelated lines
            assert len(re.sub(r"\W", "", _NAME.sub("", m.id))) >= 2, m.id


@pytest.mark.parametrize(("english", "chinese"), [
    ("cams.csv: the file is empty", "cams.csv：文件为空"),
    ("user 'bob' already exists", "用户 'bob' 已存在"),
    ("cams.csv: missing column(s) lon, lat in the header (is this the right file?); columns: id, name, lon, lat",
     "cams.csv：表头缺少列 lon, lat（是否选错了文件？）；应有的列：id, name, lon, lat"),
    ("cannot listen on 127.0.0.1:8000: Address already in use (another program is listening there; choose "
     "another --port)", "无法在 127.0.0.1:8000 上监听：Address already in use（已有其他程序在该端口监听；请换一个 --port）"),
    ("plan job 7 is already done", "规划任务 7 已处于 完成 状态"),  # a job state: a closed set, translated
    ("work order 12 is resolved; it cannot become in_progress", "工单 12 当前为 已修复 状态，不能变为 处理中"),
    ("zone 'gate': the polygon crosses itself or has no area", "区域 'gate'：多边形自相交或面积为零"),
    ("zones file: zones[2]: zone 'gate': the stop line needs two different points",  # a message inside a message
     "区域文件：zones[2]：区域 'gate'：停止线需要两个不同的点"),
    ("cams.csv: a reason no catalogue knows", "cams.csv: a reason no catalogue knows"),
    ("camera 34020000001310000001: MQTT sink is not started", "摄像机 34020000001310000001：MQTT 输出尚未启动"),
    ("user 'done' already exists", "用户 'done' 已存在"),  # a name that reads like a state stays a name
    ("user admin not found", "未找到用户 admin"),  # even unquoted: only {state}, {old}, {new}, {role} are words
    ("role planner may not users.manage", "角色 规划员 无权执行 users.manage"),
])
def test_library_errors_translate_with_their_values(english, chinese):
    assert translate_line(english, "zh-CN") == chinese
    assert translate_line(english, "en") == english


@pytest.mark.parametrize(("header", "lang"), [
    (None, "en"), ("", "en"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"), ("zh", "zh-CN"), ("zh-Hans", "zh-CN"),
    ("en-US,en;q=0.9", "en"), ("fr, zh;q=0.5", "zh-CN"), ("zh;q=0, en", "en"), ("zh-TW", "en"), ("de;q=x", "en"),
])
def test_accept_language_picks_the_best_language_vigil_speaks(header, lang):
    assert request_lang(header) == lang


def test_problem_detail_follows_accept_language(sqlite_vigil):
    w = build_world(sqlite_vigil)
    client = TestClient(create_app(sqlite_vigil))
    h = {"Authorization": f"Bearer {w.tokens[TOWN1]}"}
    missing = f"/api/v1/cameras/{TOWN1}001310099999"  # a well-formed camera ID nobody registered
    en = client.get(missing, headers=h)
    assert en.status_code == 404 and "detail_en" not in en.json()
    zh = client.get(missing, headers={**h, "Accept-Language": "zh-CN,zh;q=0.9"})
    assert zh.status_code == 404
    body = zh.json()
    assert body["detail_en"] == en.json()["detail"] and body["detail"] != body["detail_en"]
    assert "未找到" in body["detail"] and body["type"] == en.json()["type"] and body["title"] == en.json()["title"]
    refused = {"username": "admin", "password": "not-the-password"}
    bad = client.post("/api/v1/auth/login", json=refused, headers={"Accept-Language": "zh"})
    assert bad.status_code == 401 and bad.json()["detail"] == "用户名或密码错误"
    assert bad.json()["detail_en"] == "wrong user name or password"
    assert client.post("/api/v1/auth/login", json=refused).json()["detail"] == "wrong user name or password"
    unrouted = client.get("/api/v1/no-such-route", headers={**h, "Accept-Language": "zh-CN"}).json()
    assert unrouted["status"] == 404 and unrouted["detail"] == "未找到" and unrouted["detail_en"] == "Not Found"


def test_cli_error_line_in_chinese(sqlite_vigil, tmp_path):
    v = sqlite_vigil
    runner = CliRunner()
    args = ["import", "regions", str(tmp_path / "nope.csv"), "--db", v.settings.db_url, "--home",
            str(v.settings.home)]
    zh = runner.invoke(app, ["--lang", "zh-CN", *args])
    assert zh.exit_code == 2 and "Traceback" not in zh.output
    assert " ".join(zh.output.split()) == f"错误: {tmp_path / 'nope.csv'}：文件不存在"
    en = runner.invoke(app, args)
    assert " ".join(en.output.split()) == f"error: {tmp_path / 'nope.csv'}: no such file"


def test_the_fixed_problems_speak_the_language_asked_for():
    import json

    from vigil.api import problems

    busy = json.loads(problems.busy("/x", "zh-CN").body)
    assert busy["detail"] == "服务器繁忙，请稍后重试" and busy["detail_en"] == "the server is busy; retry shortly"
    assert "detail_en" not in json.loads(problems.out_of_range("/x").body)
    assert json.loads(problems.out_of_range("/x", "zh-CN").body)["detail"] == "请求中的数字或日期超出范围"


def test_bad_import_rows_in_chinese(sqlite_vigil):
    w = build_world(sqlite_vigil)
    client = TestClient(create_app(sqlite_vigil))
    h = {"Authorization": f"Bearer {w.tokens['root']}"}
    rows = b"code,name,parent\n530198,,5301\n53019701,Far,530197\n53019601,Near,5301\n"
    up = {"file": ("towns.csv", rows)}
    en = client.post("/api/v1/import/regions", files=up, headers=h)
    zh = client.post("/api/v1/import/regions", files=up, headers={**h, "Accept-Language": "zh-CN"})
    assert en.status_code == zh.status_code == 422
    assert [e["reason"] for e in en.json()["errors"]] == [
        "is required", "region 530197 does not exist in the database or the file",
        "5301 is not the parent of 53019601; by its code the parent is 530196"]
    assert "reason_en" not in en.json()["errors"][0] and "detail_en" not in en.json()
    assert [e["reason"] for e in zh.json()["errors"]] == [
        "为必填项", "区域 530197 在数据库和文件中都不存在", "5301 不是 53019601 的上级区域；按编码，其上级区域应为 530196"]
    assert [e["reason_en"] for e in zh.json()["errors"]] == [e["reason"] for e in en.json()["errors"]]
    assert zh.json()["detail_en"] == en.json()["detail"]
    assert zh.json()["detail"].startswith("towns.csv：3 行有误，未保存任何数据：第 2 行 name：为必填项；"
                                          "第 3 行 parent：区域 530197 在数据库和文件中都不存在；第 4 行 parent：")
