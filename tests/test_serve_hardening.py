"""`vigil init` and `vigil serve` as a user runs them: a private home, loopback by default, TLS on request."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import signal
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from test_serve import _port

VIGIL = str(Path(sys.executable).with_name("vigil"))


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "VIGIL_HOME": str(home)}
    env.pop("VIGIL_DB", None)
    return env


def _init(home: Path) -> str:
    res = subprocess.run([VIGIL, "init", "--region", "5301"], env=_env(home), capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout.split("password:")[1].split()[0]


def test_init_makes_the_home_private(tmp_path):
    home = tmp_path / "home"
    old = os.umask(0o022)  # a usual shell umask: the command must not rely on it
    try:
        _init(home)
    finally:
        os.umask(old)
    assert _mode(home) == 0o700
    files = [p for p in home.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"vigil.db", "secret.key"}
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    # an existing, too open home (an older install) is tightened on the next start
    home.chmod(0o755)
    (home / "vigil.db").chmod(0o644)
    (home / "recordings").mkdir(mode=0o755)
    res = subprocess.run([VIGIL, "user", "add", "ops", "--role", "auditor", "--region", "5301"], env=_env(home),
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert (_mode(home), _mode(home / "vigil.db"), _mode(home / "recordings")) == (0o700, 0o600, 0o700)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vigil.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.rsplit(":", 1)
            if int(p, 16) == port and state == "0A":  # LISTEN
                found.add(addr)
    return found


@pytest.mark.parametrize("workers", [1, 2])  # 2: the connections are spread over the main process and a worker
def test_serve_over_tls_on_loopback_by_default(tmp_path, workers):
    home = tmp_path / "home"
    password = _init(home)
    cert, key = _self_signed(tmp_path)
    port = _port()
    proc = subprocess.Popen([VIGIL, "serve", "--port", str(port), "--no-scheduler", "--no-analytics",
                             "--tls-cert", str(cert), "--tls-key", str(key), "--workers", str(workers)],
                            env=_env(home), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ctx = ssl.create_default_context(cafile=str(cert))
    base = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/api/v1/auth/me", verify=ctx, timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, "vigil serve did not come up"
                time.sleep(0.2)
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only, not 0.0.0.0 or ::
        r = httpx.post(base + "/api/v1/auth/login", json={"username": "admin", "password": password}, verify=ctx)
        assert r.status_code == 200
        cookie = r.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie
        assert r.headers["strict-transport-security"].startswith("max-age=")
        me = httpx.get(base + "/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['token']}"},
                       verify=ctx)
        assert me.json()["name"] == "admin"
        # without --trusted-proxy a client cannot dodge the per-address throttle with X-Forwarded-For
        for i in range(20):
            bad = httpx.post(base + "/api/v1/auth/login", json={"username": f"u{i}", "password": "wrong-password"},
                             headers={"X-Forwarded-For": f"10.9.{i}.1"}, verify=ctx)
            assert bad.status_code == 401
        locked = httpx.post(base + "/api/v1/auth/login", json={"username": "admin", "password": password},
                            headers={"X-Forwarded-For": "10.9.99.1"}, verify=ctx)
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
        with pytest.raises(httpx.ConnectError):  # the certificate is checked: an unknown CA is refused
            httpx.get(base + "/api/v1/auth/me", timeout=5)
        with pytest.raises(httpx.TransportError):  # no plain HTTP on the TLS port
            httpx.get(f"http://127.0.0.1:{port}/api/v1/auth/me", timeout=5)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert f"https://127.0.0.1:{port}/" in out
    assert "Traceback" not in err


def test_serve_refuses_half_a_tls_configuration(tmp_path):
    cert, _ = _self_signed(tmp_path)
    res = subprocess.run([VIGIL, "serve", "--tls-cert", str(cert)], env=_env(tmp_path / "home"),
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "--tls-key" in res.stderr and "Traceback" not in res.stderr
