"""GB/T 28181 devices and federated cameras in a real Chromium, in Chinese and in English.

The GB rows are written by the registrar's own store functions (configure, batched state, catalog) and the
remote camera arrives through the federation feed applier, as on a real parent.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import pytest
from console_world import City, browser_errors
from test_console import _css, _sign_in, _text, _wait
from test_console_maintenance import _fresh

from vigil.core.ids import generate_device_id
from vigil.core.models import utcnow
from vigil.federation.apply import apply_batch
from vigil.federation.links import add_child, parse_rules
from vigil.federation.models import FedLink
from vigil.gb28181 import cascade, store
from vigil.gb28181.manscdp import CatalogItem
from vigil.gb28181.server import GbConfig, GbServer
from vigil.gb28181.simdevice import SimDevice

pytestmark = pytest.mark.browser

VILLAGE, OTHER_TOWN = "53018101001", "53018102"
NVR = generate_device_id(VILLAGE, 1, type_code=118).value
GROUP = generate_device_id(VILLAGE, 2, type_code=216).value
SILENT = generate_device_id("53018102001", 3, type_code=118).value
UPPER = "53000000002000000001"
LIVE_NVR = generate_device_id("53018101002", 7, type_code=118).value
SECRETS = ("nvr-Secret-9x", "silent-Secret-7y", "upper-Secret-5z")


def _lang(d, code: str) -> None:  # type: ignore[no-untyped-def]
    d.execute_script(f"const s = document.getElementById('lang-switch'); s.value = '{code}';"
                     "s.dispatchEvent(new Event('change'));")


def _seed_gb(v, city: City) -> tuple[list[str], int]:  # type: ignore[no-untyped-def]
    """An NVR registered over UDP with a directory and two cameras, a silent device, an upper platform."""
    cams = sorted(cid for cid, c in city.cameras.items() if c["region"] == VILLAGE)[:2]
    now = utcnow()
    with v.db.session() as s:
        store.add_device(s, v.box, NVR, SECRETS[0], actor="test", region=VILLAGE, name="金色家园录像机")
        store.add_device(s, v.box, SILENT, SECRETS[1], actor="test", name="金方社区录像机")
        store.write_states(s, [store.DeviceState(NVR, True, now - timedelta(seconds=40), "UDP", "127.0.0.1", 5071,
                                                 now - timedelta(minutes=10), now + timedelta(minutes=50))])
        store.apply_catalog(s, NVR, [CatalogItem(GROUP, name="一号楼", parent_id=NVR),
                                     CatalogItem(cams[0], name="东门", parent_id=GROUP, civil_code=VILLAGE, status="ON"),
                                     CatalogItem(cams[1], name="西门", parent_id=GROUP, civil_code=VILLAGE,
                                                 status="OFF")])
        rules = parse_rules("regions=53018101")
        cascade.add_upper(s, v.box, UPPER, host="127.0.0.1", port=5062, password=SECRETS[2],
                          local_id="53018100002000000001", rules=rules, actor="test")
        cascade.write_upper_state(s, UPPER, registered=True)
        cascade.write_upper_state(s, UPPER, registered=True, keepalive=True)
        shared = cascade.shared_count(s, rules)
    return cams, shared


def test_gb_devices_channels_and_cascade_in_both_languages(chrome, console: City, sqlite_vigil, shots) -> None:
    cams, shared = _seed_gb(sqlite_vigil, console)
    assert 0 < shared < len(console.cameras)  # the rule shares one town: the count below could be wrong
    d = chrome
    _fresh(d)
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, "#nav a[data-route=gb]"))
    _lang(d, "zh-CN")
    _wait(d, lambda x: _text(x, "#nav a[data-route=gb]") == "国标设备")
    d.get(console.base + f"/ui/#/gb/{NVR}")
    row = f".gb-devices tr[data-id='{NVR}']"
    _wait(d, lambda x: _css(x, row) and _css(x, "#gb-channels tbody tr[data-id]"))
    assert _text(d, "h1") == "GB/T 28181 国标设备" and _text(d, "#gb-summary") == "2 台中 1 台在线"
    text = _text(d, row)
    assert "金色家园录像机" in text and "127.0.0.1:5071" in text and "UDP" in text and "前" in text and "后" in text
    assert _css(d, f"{row} [data-state=on]") and _css(d, f".gb-devices tr[data-id='{SILENT}'] [data-state=off]")
    assert "离线" in _text(d, f".gb-devices tr[data-id='{SILENT}']")
    # the channel tree: the directory first, its two cameras under it, each linked to its camera page
    order = d.execute_script("return [...document.querySelectorAll('#gb-channels tbody tr')]"
                             ".map(r => [r.dataset.id, r.dataset.kind])")
    assert order == [[GROUP, "directory"], [cams[0], "camera"], [cams[1], "camera"]]
    assert "└" in _text(d, f"#gb-channels tr[data-id='{cams[0]}']") and "目录" in _text(d, "#gb-channels tbody")
    assert "离线" in _text(d, f"#gb-channels tr[data-id='{cams[1]}']")
    assert _css(d, f"#gb-channels a[href='#/camera/{cams[0]}']")
    up = f".gb-uppers tr[data-id='{UPPER}']"
    assert "已注册" in _text(d, up) and str(shared) in _text(d, up) and "regions=53018101" in _text(d, up)
    assert "级联上级平台" in _text(d, "#gb-uppers") and "最后心跳" in _text(d, ".gb-devices thead")
    assert not any(p in d.page_source for p in SECRETS)
    d.save_screenshot(str(shots / "gb-zh.png"))
    _lang(d, "en")
    _wait(d, lambda x: _text(x, "h1") == "GB/T 28181 devices" and "Last keepalive" in _text(x, ".gb-devices thead"))
    assert _text(d, "#gb-summary") == "1 of 2 online" and "ago" in _text(d, row)
    assert "registered" in _text(d, up) and "Directory" in _text(d, "#gb-channels tbody")
    assert browser_errors(d) == []


@pytest.fixture
def registrar(console: City, sqlite_vigil):  # type: ignore[no-untyped-def]
    """The real registrar on a free UDP port, on an event loop of its own thread; yields ``run(coro)``."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, loop).result(30)

    with sqlite_vigil.db.session() as s:  # configured before the registrar loads its devices
        store.add_device(s, sqlite_vigil.box, LIVE_NVR, SECRETS[0], actor="test", region="53018101002")
    server = GbServer(sqlite_vigil, GbConfig(platform_id="53018100002000000001", port=0, flush_interval=0.2))
    run(server.start())
    yield server, run
    run(server.stop())
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_a_device_that_really_registers_shows_its_address_and_channels(chrome, console: City, sqlite_vigil,
                                                                      registrar) -> None:
    server, run = registrar
    nvr = LIVE_NVR
    cams = [generate_device_id("53018101002", 700 + i).value for i in range(2)]
    items = [CatalogItem(c, name=f"大屯{i + 1}号", parent_id=nvr, civil_code="53018101002") for i, c in enumerate(cams)]
    dev = SimDevice(nvr, SECRETS[0], ("127.0.0.1", server.port), platform_id="53018100002000000001", items=items,
                    info={"Manufacturer": "Acme", "Model": "NVR-8", "DeviceName": "大屯录像机"})
    run(dev.start())
    try:
        assert run(dev.register(600)) == 200 and run(dev.keepalive(1)) == 200
        d = chrome
        _fresh(d)
        _sign_in(d, console)
        _wait(d, lambda x: _css(x, "#nav a[data-route=gb]"))
        row = f".gb-devices tr[data-id='{nvr}']"
        for _ in range(100):  # the registrar writes states and the catalog in batches
            d.get(console.base + f"/ui/#/gb/{nvr}")
            _wait(d, lambda x: _css(x, row))
            if _css(d, f"{row} [data-state=on]") and len(_css(d, "#gb-channels tr[data-kind=camera]")) == 2:
                break
            time.sleep(0.2)
        host, port = dev.local
        text = _text(d, row)
        assert f"{host}:{port}" in text and "UDP" in text and "大屯录像机" in text and "Acme · NVR-8" in text
        assert sorted(r.get_attribute("data-id") for r in _css(d, "#gb-channels tr[data-kind=camera]")) == cams
        assert SECRETS[0] not in d.page_source and browser_errors(d) == []
    finally:
        dev.close()


def _seed_remote(v) -> str:  # type: ignore[no-untyped-def]
    """A child link bound to the other town, whose feed brought one camera owned two levels down."""
    cid = generate_device_id("53018102001", 900).value
    with v.db.session() as s:
        add_child(s, "jinfang-town", OTHER_TOWN, actor="test")
        s.flush()
        link = s.query(FedLink).filter_by(name="jinfang-town").one()
        res = apply_batch(s, link, {"after": 0, "last": 1, "entries": [{"op": "upsert", "kind": "camera", "data": {
            "id": cid, "name": "金方社区远端摄像机", "region_code": "53018102001", "lon": 102.49, "lat": 24.918,
            "height_m": 6.0, "heading_deg": 90.0, "tilt_deg": 15.0, "kind": "public_area",
            "owner": "public_security", "lifecycle": "in_service", "origin": "jinfang-village"}}]})
        assert res.upserts == 1 and not res.refused
        link.last_contact = utcnow() - timedelta(seconds=90)
    return cid


def test_a_federated_camera_is_marked_remote_with_its_source_and_age(chrome, console: City, sqlite_vigil,
                                                                    shots) -> None:
    cid = _seed_remote(sqlite_vigil)
    d = chrome
    _fresh(d)
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, "#camera-table tbody tr[data-id]"))
    # the region tree marks the regions holding the remote camera: the prefecture, the city, then (opened) its town
    marked = "return [...document.querySelectorAll('.tree-row[data-remote]')].map(r => r.dataset.code).sort()"
    _wait(d, lambda x: x.execute_script(marked) == ["5301", "530181"])
    assert _text(d, ".tree-row[data-code='530181'] .tree-remote") == "1 remote"
    _css(d, ".tree-row[data-code='530181'] .tree-toggle")[0].click()
    _wait(d, lambda x: x.execute_script(marked) == ["5301", "530181", "53018102"])
    assert _css(d, ".tree-row[data-code='53018101']"), "the town without remote cameras is shown, unmarked"
    assert "jinfang-town/jinfang-village (1)" in _css(d, ".tree-row[data-code='53018102'] .tree-remote")[0] \
        .get_attribute("title")
    d.get(console.base + "/ui/#/cameras?q=远端")
    _wait(d, lambda x: _css(x, f"#camera-table tr[data-id='{cid}'][data-remote]"))
    assert d.execute_script("return document.querySelectorAll('#camera-table tr[data-remote]').length") == 1
    assert _text(d, f"#camera-table tr[data-id='{cid}'] .remote") == "remote · jinfang-town/jinfang-village"
    d.get(console.base + "/ui/#/cameras")  # the city's own 33 cameras carry no mark
    _wait(d, lambda x: len(_css(x, "#camera-table tbody tr[data-id]")) == 34)
    assert d.execute_script("return [...document.querySelectorAll('#camera-table tr[data-remote]')]"
                            ".map(r => r.dataset.id)") == [cid]
    d.get(console.base + f"/ui/#/camera/{cid}")
    _wait(d, lambda x: _css(x, "#camera-remote"))
    assert _text(d, "#camera-origin") == "jinfang-town/jinfang-village" and "min" in _text(d, "#camera-age")
    assert "Town · 53018102" in _text(d, "#camera-remote")
    assert "remote=1" in _css(d, "#live-link")[0].get_attribute("href") and not _css(d, "#camera-edit-btn")
    d.save_screenshot(str(shots / "camera-remote-en.png"))
    d.get(console.base + "/ui/#/map?region=530181")  # on the map: one ringed camera among the city's
    _wait(d, lambda x: x.execute_script("return document.querySelector('#map canvas')?.dataset.remote") == "1",
          timeout=60)  # software WebGL on a loaded 2-core machine can be slow to draw the first frame
    assert d.execute_script("return document.querySelector('#map canvas').dataset.cameras") == "34"
    assert "Remote camera" in _text(d, ".map-legend")
    with sqlite_vigil.db.session() as s:  # an entry the parent refused, counted on the link
        link = s.query(FedLink).filter_by(name="jinfang-town").one()
        link.errors, link.last_error = 2, "camera 53010000001320000001 lies outside the link's subtree"
    d.get(console.base + "/ui/#/gb")  # the Vigil links: sharing rules and health
    row = "#fed-links tr[data-name='jinfang-town'][data-direction='child']"
    _wait(d, lambda x: _css(x, row))
    cells = d.execute_script(f"return [...document.querySelector(\"{row}\").cells].map(c => c.innerText)")
    assert cells[:4] == ["jinfang-town", "from a child", OTHER_TOWN, "everything"], cells
    assert cells[4].endswith("min ago"), cells
    assert cells[5:] == ["0", "2", "camera 53010000001320000001 lies outside the link's subtree", "1"], cells
    _lang(d, "zh-CN")
    _wait(d, lambda x: "联网共享链路" in _text(x, "#fed-links"))  # (titles are shown upper-case)
    assert "来自下级" in _text(d, row) and "积压（变更数）" in _text(d, "#fed-links thead")
    d.get(console.base + "/ui/#/dashboard?region=530181")
    _wait(d, lambda x: _css(x, "#sources-section tbody tr"))
    _wait(d, lambda x: _css(x, ".tree-row[data-code='530181'] .tree-remote"))
    assert _text(d, ".tree-row[data-code='530181'] .tree-remote") == "下级 1"
    rows = d.execute_script("return [...document.querySelectorAll('#sources-section tbody tr')]"
                            ".map(r => [r.dataset.region, r.dataset.origin, [...r.cells].map(c => c.innerText)])")
    by = {(r, o): cells for r, o, cells in rows}
    assert set(by) == {("530181", "local"), ("530181", "jinfang-town/jinfang-village"), ("53018101", "local"),
                       ("53018102", "local"), ("53018102", "jinfang-town/jinfang-village")}
    assert by["530181", "local"][2:] == ["本平台", "33", "实时"]  # the seeded city's 33 cameras are its own
    assert by["53018102", "local"][:4] == ["金方街道", "乡镇/街道", "本平台", "11"]
    remote = by["53018102", "jinfang-town/jinfang-village"]
    assert remote[:4] == ["", "", "jinfang-town/jinfang-village", "1"] and "分钟" in remote[4]
    assert "各级数据来源" in _text(d, "#sources-section")
    d.save_screenshot(str(shots / "dashboard-sources-zh.png"))
    assert browser_errors(d) == []
