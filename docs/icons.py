"""Draws feedsvc's icons (feedsvc/static/*.png, favicon.ico): a feed symbol in yellow on blue.

Run once when the design changes: `python docs/icons.py`; the service serves the files as they are.
Pure Python (zlib) so it needs nothing installed.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "feedsvc" / "static"
BLUE = (0, 87, 183)
YELLOW = (255, 215, 0)


def _png(width: int, height: int, pixel) -> bytes:  # type: ignore[no-untyped-def]
    rows = b"".join(b"\x00" + bytes(c for x in range(width) for c in pixel(x, y)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def _symbol(size: int):  # type: ignore[no-untyped-def]
    """The feed symbol on a square of `size` pixels: a dot and two quarter rings from the bottom left."""
    def pixel(x: int, y: int) -> tuple[int, int, int]:
        # Four samples per pixel smooth the edges.
        hits = 0
        for dx in (0.25, 0.75):
            for dy in (0.25, 0.75):
                u, v = (x + dx) / size, 1 - (y + dy) / size
                r = math.hypot(u - 0.2, v - 0.2)
                inside = r < 0.09 or 0.3 < r < 0.43 or 0.55 < r < 0.68
                hits += inside and u > 0.11 and v > 0.11
        t = hits / 4
        return tuple(round(b + (f - b) * t) for b, f in zip(BLUE, YELLOW, strict=True))  # type: ignore[return-value]
    return pixel


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, size in (("icon.png", 512), ("favicon.png", 64), ("icon-32.png", 32)):
        (OUT / name).write_bytes(_png(size, size, _symbol(size)))
    icon = _symbol(72)
    (OUT / "logo.png").write_bytes(_png(144, 72, lambda x, y: icon(x, y) if x < 72 else BLUE))
    small = (OUT / "icon-32.png").read_bytes()
    # An ICO holding one 32x32 PNG image (the form every browser since 2007 reads).
    ico = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 32, 32, 0, 0, 1, 32, len(small), 22) + small
    (OUT / "favicon.ico").write_bytes(ico)
    (OUT / "icon-32.png").unlink()


if __name__ == "__main__":
    main()
