"""HTTP hardening benchmark: what the security middlewares cost, and what an unauthenticated upload costs.

Usage: .venv/bin/python bench/http_hardening.py [--requests N] [--upload-mib M]

Serves one small instance in-process (httpx ASGI transport, no network) and times:
  * 3 GET /api/v1/health to 1 PUT of a camera's privacy masks, with a bearer token, through the
    full app (vigil) and through the same app without SecurityHeaders, BodyLimit and AuthBeforeBody
    (baseline);
  * an unauthenticated M MiB multipart upload to /api/v1/import/cameras: bytes the server pulled
    and wall time, full app against the baseline (which parses the whole body before its 401).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VIGIL_ARGON2_PROFILE", "test")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import httpx  # noqa: E402

from factories import TOWN1, build_world  # noqa: E402
from vigil.api.app import create_app  # noqa: E402
from vigil.api.security import AuthBeforeBody, BodyLimit, SecurityHeaders  # noqa: E402
from vigil.core.context import Vigil  # noqa: E402

_MINE = (AuthBeforeBody, BodyLimit, SecurityHeaders)


async def _requests(app, token: str, camera: str, n: int) -> float:  # type: ignore[no-untyped-def]
    auth = {"Authorization": f"Bearer {token}"}
    mask = [{"name": "door", "polygon": [[0, 0], [0.5, 0], [0.5, 0.5]]}]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as cl:
        t0 = time.perf_counter()
        for i in range(n):
            if i % 4:
                r = await cl.get("/api/v1/health", headers=auth)
            else:
                r = await cl.put(f"/api/v1/video/cameras/{camera}/masks", json=mask, headers=auth)
            assert r.status_code == 200, r.text
        return (time.perf_counter() - t0) / n * 1000


async def _upload(app, mib: int) -> tuple[int, float, int]:  # type: ignore[no-untyped-def]
    pulled = 0

    async def body():  # type: ignore[no-untyped-def]
        nonlocal pulled
        yield b'--xx\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n\r\n'
        for _ in range(mib * 16):
            pulled += 65536
            yield b"x" * 65536
        yield b"\r\n--xx--\r\n"

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as cl:
        t0 = time.perf_counter()
        r = await cl.post("/api/v1/import/cameras", content=body(),
                          headers={"Content-Type": "multipart/form-data; boundary=xx"})
        return r.status_code, (time.perf_counter() - t0) * 1000, pulled


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--upload-mib", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        v = Vigil.open(f"sqlite:///{d}/v.db", f"{d}/home")
        w = build_world(v)
        full = create_app(v)
        bare = create_app(v)
        bare.user_middleware = [m for m in bare.user_middleware if m.cls not in _MINE]
        tok, cam = w.tokens["root"], w.cameras[TOWN1]
        asyncio.run(_requests(full, tok, cam, 20))  # warm both
        asyncio.run(_requests(bare, tok, cam, 20))
        ms_full = asyncio.run(_requests(full, tok, cam, args.requests))
        ms_bare = asyncio.run(_requests(bare, tok, cam, args.requests))
        print(f"authenticated request (3 GET : 1 PUT), mean over {args.requests}:")
        print(f"  vigil    {ms_full:7.2f} ms   baseline (no hardening middlewares) {ms_bare:7.2f} ms   "
              f"ratio {ms_full / ms_bare:.2f}")
        s_full, t_full, b_full = asyncio.run(_upload(full, args.upload_mib))
        s_bare, t_bare, b_bare = asyncio.run(_upload(bare, args.upload_mib))
        print(f"unauthenticated {args.upload_mib} MiB upload to /api/v1/import/cameras:")
        print(f"  vigil    {s_full}  {t_full:8.1f} ms  pulled {b_full / 2**20:7.2f} MiB")
        print(f"  baseline {s_bare}  {t_bare:8.1f} ms  pulled {b_bare / 2**20:7.2f} MiB   "
              f"time ratio {t_bare / max(t_full, 1e-3):.0f}x")
        v.close()


if __name__ == "__main__":
    main()
