"""The SIP parser: strict framing, bounded sizes, clear errors, and fuzzing that finds no other exception."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.gb28181.sip import (
    MAX_MESSAGE,
    SipMessage,
    SipParseError,
    StreamParser,
    param,
    parse_message,
    uri_user,
)

REGISTER = (b"REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 127.0.0.1:5070;rport;branch=z9hG4bK-1\r\n"
            b"From: <sip:34020000001320000001@3402000000>;tag=abc\r\n"
            b"To: <sip:34020000001320000001@3402000000>\r\n"
            b"Call-ID: 1-1@127.0.0.1\r\nCSeq: 1 REGISTER\r\nExpires: 3600\r\n")


def _with(extra: bytes, body: bytes = b"") -> bytes:
    return REGISTER + extra + b"\r\n" + body


def test_a_register_parses_with_its_fields():
    m = parse_message(_with(b"Content-Length: 0\r\n"))
    assert (m.method, m.uri, m.cseq, m.call_id) == ("REGISTER", "sip:34020000002000000001@3402000000",
                                                    (1, "REGISTER"), "1-1@127.0.0.1")
    assert uri_user(m.get("From")) == "34020000001320000001" and param(m.get("From"), "tag") == "abc"
    assert param(m.get("via"), "branch") == "z9hG4bK-1" and m.body == b""


def test_compact_names_folding_and_a_short_body_on_udp():
    raw = (b"MESSAGE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP 1.2.3.4\r\nf: <sip:1@d>;tag=1\r\nt: <sip:2@d>\r\n"
           b"i: x\r\nCSeq: 9 MESSAGE\r\nSubject: a\r\n  b\r\nl: 5\r\n\r\nhelloEXTRA")
    m = parse_message(raw)
    assert m.call_id == "x" and m.get("Subject") == "a b" and m.body == b"hello"  # extra bytes are dropped


@pytest.mark.parametrize("raw, reason", [
    (_with(b"Content-Length: 50\r\n", b"short"), "only 5 body bytes"),
    (_with(b"Content-Length: 2\r\nContent-Length: 3\r\n", b"abc"), "conflicting"),
    (_with(b"Content-Length: -1\r\n"), "not a decimal"),
    (_with(b"Content-Length: 0x10\r\n"), "not a decimal"),
    (_with(b"Content-Length: 99999999\r\n"), "not a decimal"),
    (_with(b"Content-Length: 70000\r\n"), "over the"),
    (REGISTER.replace(b"CSeq: 1 REGISTER\r\n", b"") + b"\r\n", "missing CSeq"),
    (REGISTER.replace(b"CSeq: 1 REGISTER", b"CSeq: one REGISTER") + b"\r\n", "bad CSeq"),
    (b"HELLO world\r\n\r\n", "bad start line"),
    (REGISTER, "no blank line"),
    (_with(b"Bad Header Line\r\n"), "bad header line"),
    (_with(b"X: " + b"a" * 5000 + b"\r\n"), "over 4096"),
    (_with(b"".join(b"X-%d: 1\r\n" % i for i in range(70))), "more than 64"),
    (_with(b"X: \xff\xfe\r\n"), "not UTF-8"),
    (b"A" * (MAX_MESSAGE + 1), "over the"),
])
def test_bad_messages_fail_with_one_clear_reason(raw, reason):
    with pytest.raises(SipParseError, match=reason):
        parse_message(raw)


def test_tcp_requires_content_length_and_frames_a_stream_cut_anywhere():
    one = _with(b"Content-Length: 4\r\n", b"abcd")
    with pytest.raises(SipParseError, match="required over TCP"):
        parse_message(_with(b""), stream=True)
    stream = b"\r\n" + one + one
    for cut in range(len(stream)):
        p = StreamParser()
        got = p.feed(stream[:cut]) + p.feed(stream[cut:])
        assert [m.body for m in got] == [b"abcd", b"abcd"]


def test_a_stream_that_never_ends_its_headers_is_cut_off():
    p = StreamParser()
    with pytest.raises(SipParseError, match="size limit"):
        for _ in range(20):
            p.feed(b"X" * 4000)


def test_a_response_copies_the_transaction_headers_and_tags_to():
    req = parse_message(_with(b"Content-Length: 0\r\n"))
    resp = parse_message(req.response(401, "Unauthorized", to_tag="t1", extra=[("WWW-Authenticate", "x")]).to_bytes())
    assert (resp.status, resp.reason, resp.call_id, resp.get("CSeq")) == (401, "Unauthorized", req.call_id,
                                                                           "1 REGISTER")
    assert resp.get("To").endswith(";tag=t1") and resp.get("Via") == req.get("Via")


_tokens = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).filter(
    lambda s: s not in ("content-length", "l"))
_values = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(headers=st.lists(st.tuples(_tokens, _values), max_size=10), body=st.binary(max_size=300),
       method=st.sampled_from(["REGISTER", "MESSAGE", "NOTIFY", "OPTIONS"]))
def test_serialize_then_parse_gives_the_same_message(headers, body, method):
    base = [("Via", "SIP/2.0/UDP h"), ("From", "<sip:1@d>"), ("To", "<sip:2@d>"), ("Call-ID", "c"),
            ("CSeq", f"1 {method}")]
    msg = SipMessage(method=method, uri="sip:x@y", headers=base + headers, body=body)
    for stream in (False, True):
        back = parse_message(msg.to_bytes(), stream=stream)
        assert back.body == body and back.method == method
        assert [v for _, v in back.headers][:5] == [v for _, v in base]


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=2000))
def test_random_bytes_raise_only_sip_parse_errors(data):
    for raw in (data, REGISTER + data, _with(b"Content-Length: 3\r\n", data)):
        with contextlib.suppress(SipParseError):
            parse_message(raw)
        with contextlib.suppress(SipParseError):
            StreamParser().feed(raw)


@settings(max_examples=100, deadline=None)
@given(pos=st.integers(0, 400), junk=st.binary(min_size=1, max_size=8))
def test_mutated_registers_raise_only_sip_parse_errors(pos, junk):
    raw = _with(b"Content-Length: 0\r\n")
    pos %= len(raw)
    with contextlib.suppress(SipParseError):
        parse_message(raw[:pos] + junk + raw[pos:])
