"""A minimal PMTiles v3 writer for the tests: one raster tile image for every tile of zooms 0..max_zoom.

It follows the PMTiles v3 specification (header of 127 bytes, one uncompressed root directory, the tile data);
a single directory entry with a run length covers every tile ID of those zooms (IDs are contiguous per zoom).
"""

from __future__ import annotations

import struct

HEADER_LEN = 127
PNG = 2  # tile type
NONE = 1  # compression


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def one_tile_archive(png: bytes, *, max_zoom: int = 16) -> bytes:
    """A PMTiles archive in which every tile of zooms 0..``max_zoom`` is ``png``."""
    tiles = sum(4**z for z in range(max_zoom + 1))
    # one entry: tile id 0, run length `tiles`, length of the image, offset 0 (written as offset + 1)
    root = _varint(1) + _varint(0) + _varint(tiles) + _varint(len(png)) + _varint(1)
    meta = b"{}"
    root_off = HEADER_LEN
    meta_off = root_off + len(root)
    data_off = meta_off + len(meta)
    e7 = lambda d: round(d * 1e7)  # noqa: E731
    header = b"PMTiles" + struct.pack(
        "<BQQQQQQQQQQQBBBBBBiiiiBii", 3, root_off, len(root), meta_off, len(meta), data_off, 0, data_off, len(png),
        tiles, 1, 1, 1, NONE, NONE, PNG, 0, max_zoom, e7(-180), e7(-85), e7(180), e7(85), 0, 0, 0)
    assert len(header) == HEADER_LEN, len(header)
    return header + root + meta + png
