"""A real nats-server with JetStream for the worker tests (127.0.0.1, ephemeral port, stopped by pid)."""

from __future__ import annotations

import pytest

from vigil.worker.natsserver import NatsServer


@pytest.fixture
def nats_server(tmp_path):
    srv = NatsServer(tmp_path / "nats").start()
    yield srv
    srv.stop()
