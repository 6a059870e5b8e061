"""SDP offer/answer with y= and f=, RTP parsing and reordering, PS demux of FFmpeg-made streams."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.core.errors import InputError
from vigil.gb28181.media import RtpPsReceiver, demux_ps, parse_rtp
from vigil.gb28181.sdp import make_ssrc, offer, parse_answer
from vigil.gb28181.simdevice import ps_stream, rtp_packets


def test_the_offer_carries_ssrc_format_and_playback_fields():
    ssrc = make_ssrc("3402000000", 12)
    assert ssrc == "0200000012" and make_ssrc("3402000000", 3, live=False) == "1200000003"
    live = offer("34020000002000000001", "34020000001310000001", "127.0.0.1", 30000, ssrc)
    assert "s=Play\r\n" in live and "m=video 30000 RTP/AVP 96 98 97" in live and live.endswith("y=0200000012\r\nf=\r\n")
    back = offer("34020000002000000001", "34020000001310000001", "127.0.0.1", 30000, ssrc, tcp="passive",
                 start=100, end=200)
    assert "s=Playback" in back and "u=34020000001310000001:0" in back and "t=100 200" in back
    assert "TCP/RTP/AVP" in back and "a=setup:passive" in back
    with pytest.raises(InputError):
        make_ssrc("34", 1)


def test_answers_parse_and_bad_ones_are_refused_clearly():
    a = parse_answer("v=0\r\nc=IN IP4 10.0.0.5\r\nm=video 40000 TCP/RTP/AVP 96\r\na=setup:active\r\ny=0999999999\r\n"
                     "f=v/2/4///a///\r\n")
    assert (a.ip, a.port, a.transport, a.payload_types, a.ssrc, a.setup, a.media_format) == (
        "10.0.0.5", 40000, "TCP", (96,), "0999999999", "active", "v/2/4///a///")
    for bad, why in (("v=0\r\n", "lacks"), ("c=IN IP4 1.2.3.4\r\nm=video 0 RTP/AVP 96\r\n", "bad SDP media"),
                     ("c=IN IP4 1.2.3.4\r\nm=video 9 RTP/AVP 96\r\ny=abc\r\n", "bad SSRC"), ("x" * 9000, "8 KiB")):
        with pytest.raises(InputError, match=why):
            parse_answer(bad)


def test_rtp_with_csrcs_extension_and_padding():
    payload = b"PSDATA"
    raw = (bytes([0x80 | 0x20 | 0x10 | 1, 96]) + struct.pack(">HII", 7, 90000, 42) + b"\0\0\0\1"
           + struct.pack(">HH", 0xBEDE, 1) + b"\0\0\0\0" + payload + b"\0\0\3")
    p = parse_rtp(raw)
    assert (p.payload_type, p.seq, p.timestamp, p.ssrc, p.payload) == (96, 7, 90000, 42, payload)
    assert parse_rtp(b"\x40" + raw[1:]) is None and parse_rtp(raw[:10]) is None


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_random_datagrams_never_break_the_receiver(data):
    got = bytearray()
    r = RtpPsReceiver(got.extend)
    r.datagram_received(data, ("127.0.0.1", 1))
    r.flush()
    assert r.received + r.dropped == 1


def test_reordered_lost_and_foreign_packets():
    ps = ps_stream(10)
    pkts = rtp_packets(ps, 777, size=100, seq=65530)  # the sequence number wraps
    got = bytearray()
    r = RtpPsReceiver(got.extend, expected_ssrc=5, window=4)
    order = pkts[:]
    order[2], order[3] = order[3], order[2]
    del order[6]
    for p in order + [pkts[0]]:  # the last one repeats an old packet: too late, dropped
        r.datagram_received(p, ("127.0.0.1", 9))
    r.datagram_received(rtp_packets(b"x", 777)[0], ("127.0.0.2", 9))  # another sender
    r.datagram_received(rtp_packets(b"x", 778)[0], ("127.0.0.1", 9))  # another SSRC
    r.flush()
    assert r.ssrc == 777 and r.ssrc_mismatch and r.lost == 1 and r.dropped == 3
    assert bytes(got) == ps[:600] + ps[700:]


def test_ps_without_psm_demuxes_to_h264():
    s = demux_ps(ps_stream(6))
    assert (s.video_codec, s.width, s.height, s.video_packets) == ("h264", 160, 120, 6) and s.keyframes >= 1
