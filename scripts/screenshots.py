"""Screenshots of the console's main pages in Chinese at 1280 px, taken in a real headless Chromium.

Build a demo city once, then take the shots::

    .venv/bin/vigil demo --cameras 2000 --no-serve --db sqlite:///demo/vigil.db --home demo
    .venv/bin/python scripts/screenshots.py --db sqlite:///demo/vigil.db --home demo --out docs/screenshots

The instance is served on a free loopback port in this process; the admin password is reset to a random one
that is never printed. Each page is loaded, waited on until its content is drawn, checked for horizontal
overflow and saved as ``demo-<page>-zh.png``. ``bench/console.py`` times the same pages.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from vigil.access.users import generate_password, set_password
from vigil.core.context import Vigil
from vigil.core.models import Camera
from vigil.coverage.models import PlanRecord
from vigil.demo.extras import demo_streaming_ids
from vigil.web.layoutcheck import OVERFLOW_JS

__all__ = ["PAGES", "Console", "Page", "chromium", "page_list", "serve", "sign_in", "wait"]

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@dataclass(frozen=True)
class Page:
    """A console page: its name, its address under the base URL and a JS expression true once it is drawn."""

    name: str
    path: str
    ready: str


@dataclass
class Console:
    """A served instance: its base URL and the admin's password (kept in memory only)."""

    base: str
    password: str


#: The main pages; ``{camera}`` and ``{plan}`` are filled from the instance.
PAGES = (
    Page("dashboard", "/ui/#/dashboard", "document.querySelector('#kpi-cameras .value')?.innerText.trim()"),
    Page("map", "/ui/#/map", "+(document.querySelector('#map canvas')?.dataset.cameras || 0) > 0"),
    Page("workorders", "/ui/#/workorders", "document.getElementById('wo-total')?.innerText.trim()"),
    Page("wall", "/ui/#/wall", "document.querySelector('#wall-tree li[data-camera]')"),
    Page("zones", "/ui/#/zones/{camera}", "document.getElementById('zones-svg')"),
    Page("planning", "/ui/#/plans/{plan}", "document.querySelector('#plan-coverage .value')"),
    Page("centre", "/ui/centre.html", "document.body.dataset.ready === '1'"),
)


def page_list(v: Vigil) -> list[Page]:
    """The main pages with the demo's first zoned camera and the newest plan of the instance filled in."""
    zoned = demo_streaming_ids(v, sim=1, streams=1)
    with v.db.session() as s:
        camera = zoned[0] if zoned else s.scalar(select(func.min(Camera.id)))
        plan = s.scalar(select(func.max(PlanRecord.id)))
    out = []
    for p in PAGES:
        if "{plan}" in p.path and plan is None:
            continue
        out.append(Page(p.name, p.path.format(camera=camera, plan=plan), p.ready))
    return out


@contextmanager
def serve(v: Vigil) -> Iterator[Console]:
    """Serve ``v``'s API and console on a free 127.0.0.1 port with a fresh admin password."""
    import uvicorn

    from vigil.api.app import create_app

    password = generate_password()
    with v.db.session() as s:
        set_password(s, "admin", password, actor="screenshots")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(v), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console did not start")
        time.sleep(0.05)
    try:
        yield Console(f"http://127.0.0.1:{sock.getsockname()[1]}", password)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def chromium(profile: Path, *, lang: str = "zh-CN") -> Iterator[Any]:
    """A headless Debian Chromium at 1280 x 900 speaking ``lang``, driven by chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1280,900", f"--lang={lang}", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"intl.accept_languages": lang})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: Any, cond: Callable[[], Any], timeout: float = 60.0) -> None:
    """Poll ``cond`` until it is truthy; a clear error after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"page not ready after {timeout:.0f} s: {driver.current_url}")
        time.sleep(0.02)


def sign_in(driver: Any, c: Console) -> None:
    """Sign in as admin through the login form (any earlier session is dropped first)."""
    driver.delete_all_cookies()
    driver.get(c.base + "/")
    wait(driver, lambda: "login.html" in driver.current_url
         and driver.execute_script("return !!document.getElementById('username')"))
    driver.find_element("id", "username").send_keys("admin")
    driver.find_element("id", "password").send_keys(c.password)
    driver.find_element("id", "login-submit").click()
    wait(driver, lambda: "/ui/" in driver.current_url and driver.execute_script(
        "return !!document.querySelector('#nav a')"))


def load(driver: Any, c: Console, page: Page) -> None:
    """Open ``page`` from a blank tab and wait until its content is drawn."""
    driver.get("about:blank")
    driver.get(c.base + page.path)
    wait(driver, lambda: driver.execute_script(f"return !!({page.ready})"))


def _overflow(driver: Any) -> list[str]:
    return driver.execute_script(OVERFLOW_JS)


def main(argv: list[str] | None = None) -> int:
    """Take the screenshots; exit 1 if a page overflows sideways at 1280 px."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="database URL of a built demo city")
    ap.add_argument("--home", required=True, help="its data folder")
    ap.add_argument("--out", default="docs/screenshots", help="where the PNGs go")
    ap.add_argument("--lang", default="zh-CN", choices=["zh-CN", "en"], help="the console's language")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    v = Vigil.open(args.db, args.home)
    bad, suffix = 0, "zh" if args.lang == "zh-CN" else "en"
    with serve(v) as c, chromium(Path(args.home) / f"chromium-{args.lang}", lang=args.lang) as d:
        sign_in(d, c)
        for page in page_list(v):
            load(d, c, page)
            time.sleep(1.0)  # let the map tiles and charts settle before the picture
            d.save_screenshot(str(out / f"demo-{page.name}-{suffix}.png"))
            over = _overflow(d)
            bad += bool(over)
            size = (out / f"demo-{page.name}-{suffix}.png").stat().st_size
            print(f"{page.name:<11} {out / f'demo-{page.name}-{suffix}.png'}  {size / 1024:.0f} KiB"
                  + (f"  OVERFLOWS: {'; '.join(over)}" if over else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
