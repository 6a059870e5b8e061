"""Fixtures for the console tests: a seeded instance served by uvicorn, and headless Chromium."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_world import City, seed_city

from vigil.core.context import Vigil

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def console(sqlite_vigil: Vigil) -> Iterator[City]:
    """The API and console of a seeded instance, served by uvicorn on a free loopback port.

    The app knows its server (as under ``vigil serve``), so an event stream the page still reads (a running
    plan job's progress) ends when the server stops; before, the 10 s join gave up on the server thread.
    """
    import uvicorn

    from vigil.api.app import create_app

    city = seed_city(sqlite_vigil)
    sock = _free_socket()
    app = create_app(sqlite_vigil)
    app.state.server = server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    city.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    yield city
    server.should_exit = True
    thread.join(10)
    assert not thread.is_alive(), "the console's server did not stop within 10 s"
    sock.close()


@pytest.fixture(scope="module")
def chrome(tmp_path_factory: pytest.TempPathFactory):
    """A headless Debian Chromium driven by chromedriver (no downloads)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Debian chromium and chromium-driver are not installed")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1440,900", "--lang=en-GB",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(autouse=True)
def _blank_page_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """The browser lives for a module and each test has its own server: after a test, leave its page and drop
    the page's log, so a request the page still had in flight when the server stopped (refused) is not counted
    as the next test's browser error."""
    yield
    if "chrome" in request.fixturenames:
        driver = request.getfixturevalue("chrome")
        driver.get("about:blank")
        driver.get_log("browser")


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: $VIGIL_SCREENSHOTS if set (to look at them), else the test's tmp dir."""
    out = Path(os.environ.get("VIGIL_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out
