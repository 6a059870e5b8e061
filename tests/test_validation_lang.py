"""A request pydantic refuses, in the caller's language: each ``errors[].msg`` translated by the error's type and
ctx (``msg_en`` keeps pydantic's English, ``loc`` unchanged) and the ``detail`` naming the fields; and a problem a
route or a middleware builds itself (``problem()``) answers in the request's language too."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from factories import TOWN1, build_world
from vigil.api.app import create_app
from vigil.api.problems import problem
from vigil.i18n.validation import field_message, field_where

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


@pytest.fixture()
def world(sqlite_vigil):
    w = build_world(sqlite_vigil)
    client = TestClient(create_app(sqlite_vigil))
    return client, {"Authorization": f"Bearer {w.tokens['root']}"}


def _by_field(body: dict) -> dict[str, dict]:
    return {field_where(e["loc"]): e for e in body["errors"]}


def test_a_refused_body_names_each_field_in_chinese(world):
    client, h = world
    bad = {"name": "", "role": "chief", "regions": [], "password": "short", "colour": "red"}
    en = client.post("/api/v1/users", json=bad, headers=h)
    zh = client.post("/api/v1/users", json=bad, headers={**h, **ZH})
    assert en.status_code == zh.status_code == 422
    assert en.headers["content-type"] == zh.headers["content-type"] == "application/problem+json"
    english, chinese = _by_field(en.json()), _by_field(zh.json())
    assert [e["loc"] for e in en.json()["errors"]] == [e["loc"] for e in zh.json()["errors"]]  # loc as is
    assert english["name"]["msg"] == "String should have at least 1 character" and "msg_en" not in english["name"]
    assert {k: e["msg"] for k, e in chinese.items()} == {
        "name": "至少 1 个字符", "role": "应为 'admin', 'duty_officer', 'investigator', 'maintenance', 'auditor' 或 "
        "'planner'", "regions": "至少需要 1 项，实际为 0 项", "password": "至少 10 个字符", "colour": "不允许的额外字段"}
    assert {k: e["msg_en"] for k, e in chinese.items()} == {k: e["msg"] for k, e in english.items()}
    assert en.json()["detail"].startswith("the request is not valid: name: String should have at least 1 character; ")
    assert zh.json()["detail"].startswith("请求无效：name：至少 1 个字符；role：应为 'admin'")
    assert zh.json()["detail_en"] == en.json()["detail"] and "detail_en" not in en.json()
    assert zh.json()["type"] == en.json()["type"] and zh.json()["title"] == en.json()["title"]
    assert int(zh.headers["content-length"]) == len(zh.content)


def test_query_numbers_json_and_our_own_validators(world):
    client, h = world
    zh = client.get("/api/v1/plans/jobs", params={"limit": "0"}, headers={**h, **ZH}).json()
    assert zh["errors"] == [{"loc": ["query", "limit"], "msg": "应大于或等于 1",
                             "msg_en": "Input should be greater than or equal to 1"}]
    assert zh["detail"] == "请求无效：limit：应大于或等于 1"
    word = client.get("/api/v1/plans/jobs", params={"limit": "many"}, headers={**h, **ZH}).json()
    assert word["errors"][0]["msg"] == "应为整数，无法把该字符串解析为整数"
    broken = client.post("/api/v1/users", content=b'{"name": "bob",}', headers={**h, **ZH,
                                                                                "Content-Type": "application/json"})
    assert broken.status_code == 422 and broken.json()["errors"][0]["msg"] == "JSON 无效：此处应有用双引号括起的属性名"
    # a value_error carries one of Vigil's own messages: translated as a library message is
    null = client.patch("/api/v1/users/1", json={"team": None}, headers={**h, **ZH, "If-Match": '"1"'}).json()
    team = _by_field(null)["team"]
    assert team["msg"] == "team 可以省略，但不能为 null" and team["msg_en"] == "Value error, team may be omitted but not null"


@pytest.mark.parametrize(("error", "chinese"), [
    ({"type": "string_too_long", "msg": "String should have at most 5 characters", "ctx": {"max_length": 5}},
     "最多 5 个字符"),
    ({"type": "literal_error", "msg": "Input should be 'csv' or 'geojson'", "ctx": {"expected": "'csv' or 'geojson'"}},
     "应为 'csv' 或 'geojson'"),
    ({"type": "datetime_from_date_parsing", "msg": "Input should be a valid datetime or date, input is too short",
      "ctx": {"error": "input is too short"}}, "应为日期时间（ISO 8601）：输入太短"),
    ({"type": "string_pattern_mismatch", "msg": "String should match pattern '^\\d{20}$'",
      "ctx": {"pattern": "^\\d{20}$"}}, "格式不符，应匹配 ^\\d{20}$"),
    ({"type": "no_such_type_yet", "msg": "Something new"}, "Something new"),  # no template: pydantic's English
    ({"type": "value_error", "msg": "Value error, a reason of a library", "ctx": {"error": ValueError("a reason")}},
     "Value error, a reason of a library"),  # an own message the catalogue lacks stays whole
])
def test_field_messages_by_type_and_ctx(error, chinese):
    assert field_message(error, "zh-CN") == chinese
    assert field_message(error, "en") == error["msg"]


def test_a_problem_a_middleware_builds_answers_in_chinese(world):
    client, h = world
    body = b'{"name": "bo\\u0000b", "role": "planner", "regions": ["' + TOWN1.encode() + b'"]}'
    sent = {**h, "Content-Type": "application/json"}
    en = client.post("/api/v1/users", content=body, headers=sent)
    zh = client.post("/api/v1/users", content=body, headers={**sent, **ZH})
    assert en.status_code == zh.status_code == 422
    assert en.json()["detail"] == "body.name: NUL characters are not allowed" and "detail_en" not in en.json()
    assert zh.json()["detail"] == "body.name：不允许包含 NUL 字符" and zh.json()["detail_en"] == en.json()["detail"]
    assert zh.json()["errors"] == [{"loc": en.json()["errors"][0]["loc"], "msg": "不允许包含 NUL 字符",
                                    "msg_en": "NUL characters are not allowed"}]


def test_a_problem_built_in_english_is_sent_in_the_callers_language():
    """What the live view's 503 does (``problem()`` with the library's English message, no language in sight)."""
    app = FastAPI()

    @app.get("/live")
    def live():
        return problem(503, "not-ready", "Not ready", "camera 53018110001310000001: live stream not ready yet, retry",
                       "/live", headers={"Retry-After": "1"}, live_state="starting")

    client = TestClient(app)
    en, zh = client.get("/live"), client.get("/live", headers={"Accept-Language": "zh"})
    assert en.status_code == zh.status_code == 503 and zh.headers["retry-after"] == "1"
    assert en.json()["detail"] == "camera 53018110001310000001: live stream not ready yet, retry"
    assert zh.json()["detail"] == "摄像机 53018110001310000001：实时流尚未就绪，请重试"
    assert zh.json()["live_state"] == "starting" and zh.json()["detail_en"] == en.json()["detail"]
    assert int(zh.headers["content-length"]) == len(zh.content)


def test_one_answer_sent_twice_speaks_to_each_caller():
    shared = problem(409, "conflict", "Conflict", "the change conflicts with stored data", "/x")
    app = FastAPI()
    app.get("/x")(lambda: shared)
    client = TestClient(app)
    assert client.get("/x", headers={"Accept-Language": "zh-CN"}).json()["detail"] == "此修改与已存储的数据冲突"
    en = client.get("/x")
    assert en.json()["detail"] == "the change conflicts with stored data" and "detail_en" not in en.json()
    assert int(en.headers["content-length"]) == len(en.content)


def test_answers_sent_before_the_route_speak_the_callers_language(world):
    """The body-limit and sign-in middlewares answer before FastAPI: in Chinese too, the English kept."""
    client, h = world
    zh = client.post("/api/v1/users", json={"name": "bob"}, headers=ZH)  # no token: AuthBeforeBody
    assert zh.status_code == 401 and zh.headers["www-authenticate"] == "Bearer"
    assert zh.json()["detail"] == "需要登录" and zh.json()["detail_en"] == "authentication required"
    assert int(zh.headers["content-length"]) == len(zh.content)
    assert client.post("/api/v1/users", json={}).json()["detail"] == "authentication required"
    stale = client.post("/api/v1/users", json={}, headers={"Authorization": "Bearer nope", **ZH}).json()
    assert stale["detail"] == "令牌无效或已过期" and stale["detail_en"] == "invalid or expired token"
    big = client.post("/api/v1/users", content=b"x" * (3 << 20), headers={**h, **ZH,
                                                                         "Content-Type": "application/json"})
    assert big.status_code == 413 and big.json()["detail"].startswith("请求体最多 ")
    assert big.json()["detail_en"].startswith("the body may have at most ")
    assert big.json()["type"].endswith("/too-large")


@pytest.mark.parametrize(("doc", "zh"), [
    ({"zones": [{"polygon": [[0, 0], [1, 0], [1, 1]]}]}, "区域文件：zones.0.name：缺少此字段"),
    ({"zones": "x"}, "区域文件：zones：应为列表"),
    ({"zones": [{"name": "a", "polygon": [[0, 0], [1, 0], [1, 1]], "rules": [{"type": "intrusion", "dwell_s": -1}]}]},
     "区域文件：zones.0.rules.0.dwell_s：应大于或等于 0"),
])
def test_a_pydantic_message_inside_a_zones_error_reads_in_chinese(doc, zh):
    """parse_zones puts pydantic's English inside its own line: read back by pydantic's templates, then translated."""
    from vigil.analytics.zones import parse_zones
    from vigil.core.errors import InputError
    from vigil.i18n import translate_line

    with pytest.raises(InputError) as err:
        parse_zones(doc)
    assert translate_line(str(err.value), "zh-CN") == zh
    assert translate_line(str(err.value), "en") == str(err.value)
    assert translate_line("zones file: zones.0.name: Field required, they said", "zh-CN").endswith("they said")
