"""Property tests of the prober's parsers: any bytes a camera sends give an answer or a clean 'down' reason."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.health.rtsp import _Down, _read_response, _split, digest_authorization
from vigil.sim.rtsp import REALM, check_digest

_text = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='"\\,'), min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_reply_is_parsed_or_rejected_cleanly(data):
    async def go():
        reader = asyncio.StreamReader(limit=4096)
        reader.feed_data(data)
        reader.feed_eof()
        try:
            status, head, body = await _read_response(reader)
        except _Down as exc:
            assert exc.reason == "protocol"
        else:
            assert 100 <= status <= 999 and head.endswith(b"\r\n\r\n")

    asyncio.run(go())


@settings(max_examples=200, deadline=None)
@given(_text, _text, st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='"'), max_size=30),
       st.booleans())
def test_digest_round_trip(user, password, path, qop):
    uri = f"rtsp://127.0.0.1/{path}"
    challenge = f'Digest realm="{REALM}", nonce="n0nce"' + (', qop="auth"' if qop else "")
    header = digest_authorization(challenge, "DESCRIBE", uri, user, password)
    assert check_digest(header, "DESCRIBE", user, password, "n0nce")
    assert not check_digest(header, "DESCRIBE", user, password + "x", "n0nce")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_url_split_never_crashes(url):
    try:
        host, port, uri, _, _ = _split(url, "", "")
    except _Down as exc:
        assert exc.reason == "unreachable"
    else:
        assert host and 0 < port < 65536 and uri.lower().startswith(("rtsp://", "rtsps://"))
