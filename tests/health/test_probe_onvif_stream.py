"""ONVIF against a local test device, and real H.264 read from streaming simulated cameras (ffprobe, PyAV)."""

from __future__ import annotations

import asyncio
import shutil

import numpy as np
import pytest

from vigil.health.probe import ProbeTarget, probe_onvif, probe_targets
from vigil.sim.fleet import Fleet
from vigil.sim.onvif import serve_onvif
from vigil.sim.rtsp import SimCamera


@pytest.fixture
async def onvif_device():
    cam = SimCamera(index=42, host="127.0.0.1", port=0, username="onvif", password="Secr3t!", onvif=True)
    srv = await serve_onvif(cam)
    cam.port = srv.sockets[0].getsockname()[1]
    yield cam
    srv.close()


async def test_onvif_get_device_information(onvif_device):
    cam = onvif_device
    reason, info = await probe_onvif(cam.onvif_url, "onvif", "Secr3t!", timeout=15)  # the first call loads the WSDL: slow on busy cores (CI timed out at 3 s)
    assert reason == ""
    assert info == {"Manufacturer": "Vigil", "Model": "SimCam-768", "FirmwareVersion": "1.0.0",
                    "SerialNumber": "SIM00000042"}


async def test_onvif_wrong_password_and_refused(onvif_device):
    assert (await probe_onvif(onvif_device.onvif_url, "onvif", "nope"))[0] == "auth"
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert (await probe_onvif(f"http://127.0.0.1:{free}/onvif/device_service", "onvif", "x", timeout=2))[0] == "refused"


async def test_prober_reports_onvif_beside_rtsp():
    async with Fleet(2, onvif=True, faults="1=auth") as fleet:
        res = await probe_targets([ProbeTarget(c.url, c.username, c.password, c.onvif_url, str(c.index))
                                   for c in fleet.cameras], timeout=5)
    assert (res[0].label, res[0].onvif, res[0].device["SerialNumber"]) == ("online", "online", "SIM00000000")
    assert (res[1].label, res[1].onvif, res[1].device) == ("auth", "auth", None)


def _url(cam) -> str:
    return cam.url.replace("rtsp://", f"rtsp://{cam.username}:{cam.password}@")


def _mean_luma(url: str) -> tuple[int, int, float]:
    import av

    opts = {"rtsp_transport": "tcp", "timeout": "5000000", "analyzeduration": "500000"}
    with av.open(url, options=opts, timeout=10) as box:
        for frame in box.decode(video=0):
            y = frame.to_ndarray(format="gray")
            return frame.width, frame.height, float(np.mean(y))
    raise AssertionError("no frame")


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe missing")
async def test_ffprobe_and_pyav_read_h264_from_the_fleet():
    async with Fleet(3, streams=2, faults="1=black") as fleet:
        proc = await asyncio.create_subprocess_exec(
            "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-timeout", "5000000", "-show_entries",
            "stream=codec_name,width,height", "-of", "csv=p=0", _url(fleet.cameras[0]),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert out.decode().strip() == "h264,768,576", err
        w, h, healthy = await asyncio.to_thread(_mean_luma, _url(fleet.cameras[0]))
        _, _, black = await asyncio.to_thread(_mean_luma, _url(fleet.cameras[1]))
        assert (w, h) == (768, 576) and healthy > 60 and black < 25
        await fleet.set_faults(0, ["black"])  # picture fault changed while running: new sessions see it
        _, _, now_black = await asyncio.to_thread(_mean_luma, _url(fleet.cameras[0]))
        assert now_black < 25
        # a camera that does not stream still describes itself, but refuses SETUP
        proc = await asyncio.create_subprocess_exec(
            "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-timeout", "3000000", _url(fleet.cameras[2]),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode != 0
