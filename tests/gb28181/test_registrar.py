"""The registrar's state machine with a hand-driven clock: digest REGISTER, replay, liveness, debounce."""

from __future__ import annotations

import pytest
from gbkit import DEVICE, PASSWORD, PLATFORM

from vigil.gb28181.registrar import Peer, Registrar
from vigil.gb28181.simdevice import SimDevice
from vigil.gb28181.sip import SipMessage, param, parse_message
from vigil.gb28181.store import DeviceConfig

PEER = Peer("UDP", "127.0.0.1", 5070)


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.fixture
def world():
    clock = Clock()
    reg = Registrar(PLATFORM, devices={DEVICE: DeviceConfig(DEVICE, PASSWORD, frozenset(), None)},
                    keepalive_interval=60, clock=clock)
    dev = SimDevice(DEVICE, PASSWORD, ("127.0.0.1", 5060))
    dev.transport = _FakeTransport(PEER)  # only its address is used to build messages
    dev._call = "call-1@127.0.0.1"
    return reg, dev, clock


class _FakeTransport:
    def __init__(self, peer):
        self.peer = peer

    def get_extra_info(self, _name):
        return (self.peer.host, self.peer.port)


def _roundtrip(msg: SipMessage) -> SipMessage:
    return parse_message(msg.to_bytes())


def _register(reg, dev, peer=PEER, expires=3600, algorithm="MD5"):
    dev.algorithm = algorithm
    first = reg.handle(_roundtrip(dev.register_request(expires)), peer)
    assert first.response.status == 401
    second = _roundtrip(dev.register_request(expires, dev.authorization(first.response.get("WWW-Authenticate"))))
    return reg.handle(second, peer), second


@pytest.mark.parametrize("algorithm", ["MD5", "SM3"])
def test_digest_register_gives_200_with_date_and_a_session(world, algorithm):
    reg, dev, _ = world
    reply, _ = _register(reg, dev, algorithm=algorithm)
    r = reply.response
    assert r.status == 200 and r.get("Expires") == "3600" and len(r.get("Date")) == 23
    assert param(r.get("Via"), "received") == "127.0.0.1" and param(r.get("Via"), "rport") == "5070"
    assert [e.kind for e in reply.events] == ["registered"] and reg.sessions[DEVICE].online
    (state,) = reg.take_dirty()
    assert state.online and state.host == "127.0.0.1" and state.port == 5070 and state.expires_at is not None


def test_a_retransmission_gets_the_same_answer_and_a_replay_elsewhere_a_fresh_challenge(world):
    reg, dev, _ = world
    reply, second = _register(reg, dev)
    reg.take_dirty()
    again = reg.handle(second, PEER)
    assert again.response is reply.response and again.events == []
    replay = reg.handle(second, Peer("UDP", "127.0.0.9", 6000))
    assert replay.response.status == 401 and "stale=TRUE" in replay.response.get("WWW-Authenticate")
    assert replay.events == [] and reg.take_dirty() == [] and reg.sessions[DEVICE].peer == PEER


def test_a_wrong_password_is_403_and_changes_nothing(world):
    reg, dev, _ = world
    first = reg.handle(_roundtrip(dev.register_request()), PEER)
    bad = dev.authorization(first.response.get("WWW-Authenticate"), password="guess")
    reply = reg.handle(_roundtrip(dev.register_request(3600, bad)), PEER)
    assert reply.response.status == 403 and [e.kind for e in reply.events] == ["bad"]
    assert reg.sessions == {} and reg.take_dirty() == []


def test_unknown_ids_whitelist_and_missing_expires(world):
    reg, dev, _ = world
    stranger = SimDevice("34020000001320000099", PASSWORD, ("127.0.0.1", 5060))
    stranger.transport, stranger._call = dev.transport, "call-2@127.0.0.1"
    r = reg.handle(_roundtrip(stranger.register_request()), PEER)
    assert r.response.status == 403 and "unknown device" in r.response.reason and r.events[0].kind == "refused"
    reg.devices[DEVICE] = DeviceConfig(DEVICE, PASSWORD, frozenset({"10.0.0.1"}), None)
    r = reg.handle(_roundtrip(dev.register_request()), PEER)
    assert r.response.status == 403 and "whitelist" in r.events[0].detail
    reg.devices[DEVICE] = DeviceConfig(DEVICE, PASSWORD, frozenset(), None)
    msg = dev.register_request()
    msg.headers = [(n, v) for n, v in msg.headers if n != "Expires"]
    assert reg.handle(_roundtrip(msg), PEER).response.status == 400


def test_refresh_port_change_and_unregister(world):
    reg, dev, _ = world
    _register(reg, dev)
    reply, _ = _register(reg, dev)
    assert [e.kind for e in reply.events] == ["refreshed"]
    moved = Peer("UDP", "127.0.0.1", 6001)
    dev.transport = _FakeTransport(moved)
    reply, _ = _register(reg, dev, peer=moved)
    assert [e.kind for e in reply.events] == ["registered"] and reg.sessions[DEVICE].peer == moved
    reg.take_dirty()
    reply, _ = _register(reg, dev, peer=moved, expires=0)
    assert reply.response.status == 200 and [e.kind for e in reply.events] == ["unregistered"]
    assert DEVICE not in reg.sessions and not reg.take_dirty()[0].online


def test_offline_after_three_missed_keepalives_and_back_only_after_two(world):
    reg, dev, clock = world
    _register(reg, dev)
    for _ in range(10):  # keepalives on time: never offline
        clock.t += 60
        assert reg.handle(_roundtrip(dev.keepalive_request()), PEER).response.status == 200
        assert reg.sweep() == []
    clock.t += 60 * 3
    assert reg.sweep() == []  # three intervals: still within the grace
    clock.t += 31
    (ev,) = reg.sweep()
    assert ev.kind == "offline" and not reg.sessions[DEVICE].online and reg.sweep() == []
    assert reg.handle(_roundtrip(dev.keepalive_request()), PEER).events == []  # one keepalive: not yet
    assert [e.kind for e in reg.handle(_roundtrip(dev.keepalive_request()), PEER).events] == ["online"]


def test_keepalives_from_strangers_or_for_another_device_change_nothing(world):
    reg, dev, _ = world
    assert reg.handle(_roundtrip(dev.keepalive_request()), PEER).response.status == 403  # not registered
    _register(reg, dev)
    reg.take_dirty()
    assert reg.handle(_roundtrip(dev.keepalive_request()), Peer("UDP", "127.0.0.7", 1)).response.status == 403
    other = dev.keepalive_request()
    other.body = other.body.replace(DEVICE.encode(), b"34020000001320000002")
    assert reg.handle(_roundtrip(other), PEER).response.status == 400
    assert reg.take_dirty() == []


def test_registration_expiry_takes_the_device_offline(world):
    reg, dev, clock = world
    _register(reg, dev, expires=60)
    clock.t += 61
    (ev,) = reg.sweep()
    assert ev.kind == "offline" and "expired" in ev.detail and DEVICE not in reg.sessions


def test_queries_go_to_the_registered_address(world):
    reg, dev, _ = world
    assert reg.query(DEVICE, "Catalog", 3, local="127.0.0.1:5060") is None
    _register(reg, dev)
    msg, peer = reg.query(DEVICE, "Catalog", 3, local="127.0.0.1:5060")
    assert peer == PEER and msg.uri == f"sip:{DEVICE}@127.0.0.1:5070" and b"<SN>3</SN>" in msg.body
    assert parse_message(msg.to_bytes()).get("Content-Type") == "Application/MANSCDP+xml"

