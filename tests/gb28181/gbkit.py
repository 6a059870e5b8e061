"""Shared names and helpers of the GB/T 28181 tests."""

import asyncio

PLATFORM = "34020000002000000001"
DEVICE = "34020000001320000001"
NVR = "34020000001180000001"
PASSWORD = "12345678"
LOCAL = "34020000002000000009"  # the ID Vigil registers upward with, in the cascade tests


async def until(fn, seconds: float = 15.0) -> bool:
    """Poll ``fn`` until it is true or ``seconds`` pass; its last value as a bool."""
    for _ in range(int(seconds / 0.05)):
        if fn():
            return True
        await asyncio.sleep(0.05)
    return bool(fn())
