"""MANSCDP XML: GB2312 and UTF-8, no DTDs or entities, broken catalogs read item by item; fuzzed."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.gb28181.manscdp import (
    CatalogItem,
    ManscdpError,
    build,
    catalog_items_xml,
    parse,
    parse_catalog_part,
)

DEV = "34020000001320000001"


def test_a_gb2312_keepalive_with_chinese_text_parses():
    body = build("Notify", "Keepalive", 7, DEV, {"Status": "OK", "Info": "东门摄像机"})
    assert b'encoding="GB2312"' in body and "东门".encode("gb2312") in body
    doc = parse(body)
    assert (doc.root, doc.cmd_type, doc.sn, doc.device_id, doc.text("Info")) == ("Notify", "Keepalive", 7, DEV,
                                                                                 "东门摄像机")


def test_utf8_and_a_body_that_lies_about_its_charset_both_decode():
    utf8 = build("Response", "DeviceInfo", 1, DEV, {"DeviceName": "南门"}, charset="UTF-8")
    assert parse(utf8).text("DeviceName") == "南门"
    lying = utf8.replace(b"UTF-8", b"GB2312")  # declared GB2312, bytes are UTF-8 (not valid GB18030 here)
    assert parse(lying).device_id == DEV


@pytest.mark.parametrize("body, reason", [
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Notify><CmdType>&a;</CmdType></Notify>', "DTD"),
    (b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><Notify/>', "DTD"),
    (b'<?xml version="1.0"?><?evil x?><Notify/>', "processing instruction"),
    (b"<Notify><CmdType>Keepalive</CmdType></Notify>", "lacks CmdType or DeviceID"),
    (b"<Notify><CmdType>Keepalive</CmdType><DeviceID>1</DeviceID><SN>x</SN></Notify>", "SN 'x'"),
    (b"<Notify><CmdType>Keep", "not well-formed"),
    (b"<a>" + b"x" * 300_000 + b"</a>", "over the"),
])
def test_unsafe_or_bad_bodies_are_refused_clearly(body, reason):
    with pytest.raises(ManscdpError, match=reason):
        parse(body)


def test_a_catalog_with_one_broken_item_keeps_the_others():
    items = [CatalogItem(f"3402000000131000000{i}", name=f"cam {i}", civil_code="340200") for i in (1, 2, 3)]
    body = build("Response", "Catalog", 5, DEV, {"SumNum": "3"}, raw=catalog_items_xml(items))
    broken = body.replace(b"<Name>cam 2</Name>", b"<Name>cam & 2</Name>")  # unescaped & breaks the document
    part = parse_catalog_part(broken)
    assert (part.device_id, part.sn, part.sum_num, part.bad_items) == (DEV, 5, 3, 1)
    assert [i.device_id for i in part.items] == ["34020000001310000001", "34020000001310000003"]
    bad_id = body.replace(b"34020000001310000003", b"abc")
    part = parse_catalog_part(bad_id)
    assert len(part.items) == 2 and part.bad_items == 1


def test_catalog_items_keep_tree_and_position_fields():
    raw = ("<Item><DeviceID>34020000001310000001</DeviceID><Name>西门</Name><CivilCode>340200</CivilCode>"
           "<ParentID>34020000001180000001</ParentID><Parental>0</Parental><Status>on</Status>"
           "<Longitude>117.25</Longitude><Latitude>nan</Latitude><Event>ADD</Event></Item>")
    part = parse_catalog_part(build("Notify", "Catalog", 1, DEV, {"SumNum": "1"},
                                    raw=f'<DeviceList Num="1">{raw}</DeviceList>'))
    (it,) = part.items
    assert (it.name, it.parent_id, it.status, it.longitude, it.latitude, it.event) == (
        "西门", "34020000001180000001", "ON", 117.25, None, "ADD")


_names = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


@settings(max_examples=150, deadline=None)
@given(name=_names, sn=st.integers(0, 10**9), charset=st.sampled_from(["GB2312", "UTF-8"]))
def test_build_then_parse_round_trips_any_text(name, sn, charset):
    body = build("Response", "DeviceInfo", sn, DEV, {"DeviceName": name}, charset=charset)
    doc = parse(body)
    assert (doc.sn, doc.text("DeviceName")) == (sn, name.strip())


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=1500))
def test_random_bytes_raise_only_manscdp_errors(data):
    for raw in (data, b'<?xml version="1.0" encoding="GB2312"?><Response>' + data):
        for fn in (parse, parse_catalog_part):
            with contextlib.suppress(ManscdpError):
                fn(raw)


@settings(max_examples=100, deadline=None)
@given(pos=st.integers(0, 2000), junk=st.binary(min_size=1, max_size=6))
def test_mutated_catalogs_raise_only_manscdp_errors(pos, junk):
    items = [CatalogItem("34020000001310000001", name="东"), CatalogItem("34020000001310000002", name="西")]
    body = build("Response", "Catalog", 1, DEV, {"SumNum": "2"}, raw=catalog_items_xml(items))
    pos %= len(body)
    try:
        part = parse_catalog_part(body[:pos] + junk + body[pos:])
    except ManscdpError:
        return
    assert len(part.items) + part.bad_items <= 3
