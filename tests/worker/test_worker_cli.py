"""`vigil worker` and `vigil serve --role scheduler` fail as one line: a bad NATS URL, an unreachable server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pgserver import free_port
from vigil.access.bootstrap import init_instance
from vigil.core.context import Vigil

VIGIL = str(Path(sys.executable).parent / "vigil")


@pytest.fixture
def instance(tmp_path):
    v = Vigil.open(f"sqlite:///{tmp_path / 'v.db'}", str(tmp_path / "home"))
    init_instance(v, root_code="5301", root_name="Pref")
    v.close()
    return ["--db", f"sqlite:///{tmp_path / 'v.db'}", "--home", str(tmp_path / "home")]


def _run(args, **env):
    return subprocess.run([VIGIL, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env}, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args", [["worker", "--nats", "http://127.0.0.1:1"],
                                  ["serve", "--role", "scheduler", "--nats", "redis://127.0.0.1:1"],
                                  ["worker", "--lease-ttl", "30"]])
def test_bad_options_are_one_line(instance, args):
    r = _run([*args, *instance])
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_bad_ttl_from_environment(instance):
    r = _run(["serve", "--role", "scheduler", "--nats", "nats://127.0.0.1:1", *instance], VIGIL_LEASE_TTL="60")
    assert r.returncode == 2 and "lease TTL" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow  # many CLI subprocesses or a long stream: `make test-slow`
def test_unreachable_nats_is_one_line_without_password(instance):
    r = _run(["worker", "--nats", f"nats://svc:s3cretpw@127.0.0.1:{free_port()}", *instance])
    assert r.returncode == 2
    assert "cannot reach the NATS server" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout and "s3cretpw" not in r.stderr + r.stdout
