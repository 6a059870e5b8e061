"""The simulated fleet and the prober against it: real RTSP on loopback, digest auth, every connection fault."""

from __future__ import annotations

import asyncio

import pytest

from vigil.core.errors import InputError
from vigil.health.probe import ProbeTarget, probe_one, probe_targets, public_url
from vigil.health.rtsp import digest_authorization, probe_rtsp
from vigil.sim.faults import CONNECTION_FAULTS, EXPECTED_REASON, FAULTS, parse_spec
from vigil.sim.fleet import Fleet
from vigil.sim.rtsp import REALM, check_digest


def target(cam, password=None) -> ProbeTarget:
    return ProbeTarget(cam.url, cam.username, cam.password if password is None else password, key=str(cam.index))


@pytest.mark.parametrize(("spec", "n", "expect"), [
    ("", 10, {}),
    ("3=offline", 10, {3: {"offline"}}),
    ("7=black+slow", 10, {7: {"black", "slow"}}),
    ("refused:2", 10, None),
    ("mix:10%", 160, None),
])
def test_parse_spec(spec, n, expect):
    plan = parse_spec(spec, n, seed=1)
    if expect is not None:
        assert {k: set(v) for k, v in plan.items()} == expect
    if spec.startswith("mix"):
        assert len(plan) == 16 and {f for fs in plan.values() for f in fs} == set(FAULTS)
    assert plan == parse_spec(spec, n, seed=1)  # deterministic


@pytest.mark.parametrize("spec", ["bogus:3", "3=melted", "x=offline", "20=offline", "offline:11", "offline"])
def test_parse_spec_rejects(spec):
    with pytest.raises(InputError):
        parse_spec(spec, 10)


@pytest.mark.parametrize("qop", [False, True])
def test_digest_client_and_server_agree(qop):
    challenge = f'Digest realm="{REALM}", nonce="abc123"' + (', qop="auth"' if qop else "")
    hdr = digest_authorization(challenge, "DESCRIBE", "rtsp://h/x", "admin", "s3cret")
    assert check_digest(hdr, "DESCRIBE", "admin", "s3cret", "abc123")
    assert not check_digest(hdr, "DESCRIBE", "admin", "wrong", "abc123")
    assert not check_digest(hdr, "SETUP", "admin", "s3cret", "abc123")
    assert not check_digest(hdr, "DESCRIBE", "admin", "s3cret", "other-nonce")


def test_public_url_hides_credentials():
    assert public_url("rtsp://u:p@127.0.0.1:554/a?b=1") == "rtsp://127.0.0.1:554/a?b=1"
    assert public_url("rtsp://127.0.0.1/a") == "rtsp://127.0.0.1/a"


async def test_digest_auth_right_and_wrong_password():
    async with Fleet(2) as fleet:
        cam = fleet.cameras[0]
        assert cam.host != fleet.cameras[1].host  # one address per camera
        assert (await probe_rtsp(cam.url, cam.username, cam.password)).online
        wrong = await probe_rtsp(cam.url, cam.username, cam.password + "x")
        assert wrong.reason == "auth"
        no_creds = await probe_rtsp(cam.url)
        assert no_creds.reason == "auth"
        in_url = cam.url.replace("rtsp://", f"rtsp://{cam.username}:{cam.password}@")
        refused = await probe_rtsp(in_url)  # credentials inside a URL break the registry's rule
        assert refused.reason == "unreachable" and cam.password not in refused.detail


async def test_every_connection_fault_is_classified():
    spec = ",".join(f"{i + 1}={f}" for i, f in enumerate(CONNECTION_FAULTS))
    async with Fleet(len(CONNECTION_FAULTS) + 2, faults=spec, slow_s=3.0) as fleet:
        results = await probe_targets([target(c) for c in fleet.cameras], concurrency=8, timeout=1.0, backoff=0.01)
    got = {c.index: r.label for c, r in zip(fleet.cameras, results, strict=True)}
    want = {i + 1: EXPECTED_REASON[f] for i, f in enumerate(CONNECTION_FAULTS)}
    want[0] = want[len(CONNECTION_FAULTS) + 1] = "online"
    assert got == want


async def test_slow_camera_within_timeout_is_online():
    async with Fleet(1, faults="0=slow", slow_s=0.2) as fleet:
        res = await probe_one(target(fleet.cameras[0]), timeout=3.0)
    assert res.ok and res.ms >= 400  # three answers, each delayed


async def test_faults_change_while_running():
    async with Fleet(3) as fleet:
        t = target(fleet.cameras[1])
        assert (await probe_one(t, timeout=1)).ok
        for fault in ("offline", "refused", "garbage", "auth", "dropped"):
            await fleet.set_faults(1, [fault])
            assert (await probe_one(t, timeout=0.5, retries=0)).label == EXPECTED_REASON[fault], fault
        await fleet.set_faults(1, [])
        assert (await probe_one(t, timeout=1)).ok
        with pytest.raises(InputError):
            await fleet.set_faults(1, ["melted"])


async def test_sharded_fleet_in_child_processes(tmp_path):
    async with Fleet(60, workers=2, faults="5=refused,40=garbage", seed=3) as fleet:
        results = await probe_targets([target(c) for c in fleet.cameras], concurrency=20, timeout=2, backoff=0.01)
        labels = [r.label for r in results]
        assert labels.count("online") == 58 and labels[5] == "refused" and labels[40] == "protocol"
        await fleet.set_faults(50, ["offline"])  # across the process boundary
        await fleet.set_faults(5, [])
        assert (await probe_one(target(fleet.cameras[50]), timeout=0.5)).label == "timeout"
        assert (await probe_one(target(fleet.cameras[5]), timeout=2)).ok
        path = fleet.write_manifest(tmp_path / "fleet.json")
    import json

    m = json.loads(path.read_text())
    assert m["cameras_total"] == 60 and len(m["cameras"]) == 60
    assert m["cameras"][50]["faults"] == ["offline"] and m["cameras"][5]["faults"] == []
    assert {"url", "sub_url", "username", "password", "faults"} <= set(m["cameras"][0])


async def test_one_misbehaving_camera_never_stalls_the_sweep():
    # 8 black-holed cameras and 1 slot each for 4 workers: each costs at most its own timeout
    spec = ",".join(f"{i}=offline" for i in range(8))
    async with Fleet(40, faults=spec) as fleet:
        results = await asyncio.wait_for(
            probe_targets([target(c) for c in fleet.cameras], concurrency=4, timeout=0.3), 30)
    assert [r.label for r in results[:8]] == ["timeout"] * 8
    assert all(r.ok for r in results[8:])


@pytest.mark.parametrize(("exc", "reason"), [
    (OSError(__import__("errno").EHOSTUNREACH, "No route to host"), "unreachable"),
    (OSError(__import__("errno").ENETUNREACH, "Network is unreachable"), "unreachable"),
    (__import__("socket").gaierror(-2, "Name or service not known"), "unreachable"),
    (ConnectionRefusedError(111, "Connection refused"), "refused"),
])
async def test_connect_errors_are_classified(monkeypatch, exc, reason):
    async def fail(*_a, **_k):
        raise exc

    monkeypatch.setattr(asyncio, "open_connection", fail)
    assert (await probe_rtsp("rtsp://camera.example:554/x", timeout=1)).reason == reason


async def test_bad_urls_are_unreachable():
    for url in ("http://127.0.0.1/x", "rtsp://", "rtsp://127.0.0.1:70000/x", "not a url"):
        assert (await probe_rtsp(url, timeout=1)).reason == "unreachable", url


async def test_interleaved_rtcp_from_the_client_is_skipped():
    """ffmpeg sends RTCP receiver reports on the RTSP connection; keepalives after them must still work."""
    from vigil.health.rtsp import _read_response

    async with Fleet(1) as fleet:
        cam = fleet.cameras[0]
        reader, writer = await asyncio.open_connection(cam.host, cam.port)
        rr = b"$\x01\x00\x08" + bytes([0x81, 201, 0, 1, 0, 0, 0, 1])
        writer.write(rr + f"OPTIONS {cam.url} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode() + rr[:3])
        status, _, _ = await asyncio.wait_for(_read_response(reader), 5)
        writer.write(rr[3:] + f"OPTIONS {cam.url} RTSP/1.0\r\nCSeq: 2\r\n\r\n".encode())
        status2, head, _ = await asyncio.wait_for(_read_response(reader), 5)
        writer.close()
    assert (status, status2) == (200, 200) and b"CSeq: 2" in head
