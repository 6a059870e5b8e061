"""``vigil sim``: run a simulated camera fleet; ``vigil sim fault``: change a camera's faults while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli_common import HomeOpt, console, open_instance

app = typer.Typer(help="Simulated camera fleet on loopback (RTSP + digest auth, H.264 streams, faults).",
                  no_args_is_help=False)


async def _run(fleet_args: dict, manifest: Path, control_port: int, duration: float | None,
               register: tuple[str | None, str | None, str | None, bool] | None) -> None:
    from vigil.sim.control import serve_control
    from vigil.sim.fleet import Fleet

    fleet = Fleet(**fleet_args)
    await fleet.start()
    try:
        urls: dict[str, str] = {}
        ctl = await serve_control(fleet, control_port, on_change=lambda: fleet.write_manifest(manifest, **urls))
        urls["control"] = f"http://127.0.0.1:{ctl.sockets[0].getsockname()[1]}"
        control = urls["control"]
        fleet.write_manifest(manifest, control=control)  # rewritten after every fault change
        if register is not None:
            from vigil.sim.register import register_fleet

            db, home, region, attach = register
            ids = register_fleet(open_instance(db, home), fleet.manifest()["cameras"], region=region, attach=attach)
            console.print(f"registered {len(ids)} camera(s) in {db or 'the default database'}")
        bad = sum(1 for c in fleet.cameras if c.faults)
        console.print(f"fleet: {fleet.n} cameras ({fleet.streams} streaming, {bad} with faults) on "
                      f"{fleet.manifest()['block']} port {fleet.cameras[0].port}; manifest {manifest}; "
                      f"control {control}", highlight=False)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
        ctl.close()
    finally:
        await fleet.stop()


@app.callback(invoke_without_command=True)
def sim(ctx: typer.Context,
        cameras: Annotated[int, typer.Option(help="Number of cameras")] = 100,
        streams: Annotated[int, typer.Option(help="How many cameras (the first ones) stream H.264")] = 0,
        faults: Annotated[str, typer.Option(help="Fault SPEC, e.g. 'mix:10%', 'offline:5,refused:1%', '7=black'")] = "",
        seed: Annotated[int, typer.Option(help="Seed for passwords and fault placement")] = 0,
        onvif: Annotated[bool, typer.Option(help="Cameras also serve ONVIF GetDeviceInformation")] = False,
        port: Annotated[int, typer.Option(help="Port on every camera address (0: pick one)")] = 0,
        workers: Annotated[int | None, typer.Option(help="Child processes (default: by size)")] = None,
        manifest: Annotated[Path, typer.Option(help="Where to write the JSON manifest")] = Path("fleet.json"),
        control_port: Annotated[int, typer.Option(help="Port of the control API on 127.0.0.1")] = 0,
        duration: Annotated[float | None, typer.Option(help="Stop after this many seconds")] = None,
        register: Annotated[str | None, typer.Option(help="Register the cameras in this database URL")] = None,
        region: Annotated[str | None, typer.Option(help="Region code for --register (default: the root)")] = None,
        attach: Annotated[bool, typer.Option(help="--register: repoint existing cameras instead of adding")] = False,
        home: HomeOpt = None) -> None:
    """Serve a fleet until Ctrl-C (or --duration) and write its manifest.

    Faults: offline, dropped, refused, auth, slow, garbage (connection); black, blue, frozen, blur, dark,
    bright, color_cast, noise, covered, moved (picture).
    """
    if ctx.invoked_subcommand is not None:
        return
    args = {"cameras": cameras, "streams": streams, "faults": faults, "seed": seed, "onvif": onvif,
            "port": port, "workers": workers}
    reg = (register, home, region, attach) if register else None
    runner = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    runner(_run(args, manifest, control_port, duration, reg))


@app.command("fault")
def fault(camera: Annotated[int, typer.Argument(help="Camera index (0-based, see the manifest)")],
          faults: Annotated[list[str] | None, typer.Argument(help="Faults to set; none heals the camera")] = None,
          manifest: Annotated[Path, typer.Option(help="Manifest of the running fleet")] = Path("fleet.json"),
          control: Annotated[str | None, typer.Option(help="Control URL (default: from the manifest)")] = None,
          ) -> None:
    """Replace a running camera's faults, e.g. `vigil sim fault 7 offline`."""
    from vigil.core.errors import InputError
    from vigil.sim.control import set_faults_remote

    if control is None:
        if not manifest.exists():
            raise InputError(f"{manifest} not found: pass --manifest or --control")
        control = json.loads(manifest.read_text()).get("control")
        if not control:
            raise InputError(f"{manifest} has no control URL")
    cam = set_faults_remote(control, camera, list(faults or []))
    console.print(f"camera {cam['index']} ({cam['url']}): faults {', '.join(cam['faults']) or 'none'}",
                  highlight=False)
