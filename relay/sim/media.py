"""Small, valid image files the simulator hands out: a map snapshot JPEG and a link QR PNG.

Built with the standard library at import, so the simulator needs no image package. The JPEG
stands in for the map snapshot Signal attaches to a location share; the PNG stands in for the
QR code ``GET /v1/qrcodelink`` returns. The PNG is a valid image, not a scannable QR code.
"""

from __future__ import annotations

import hashlib
import struct
import zlib


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def grey_jpeg(width: int = 96, height: int = 64) -> bytes:
    """A baseline JPEG of one flat grey: every 8x8 block has DC 0 and no AC coefficients.

    One-symbol Huffman tables make every block two zero bits, so the encoder is a few lines.
    """
    if width % 8 or height % 8:
        msg = "width and height must be multiples of 8"
        raise ValueError(msg)
    quant = _jpeg_segment(0xDB, bytes([0x00]) + bytes([1] * 64))
    frame = _jpeg_segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + bytes([1, 0x11, 0]))
    # DC table 0 and AC table 0, each with one 1-bit code: category 0 / end-of-block.
    one_code = bytes([1] + [0] * 15)
    dc = _jpeg_segment(0xC4, bytes([0x00]) + one_code + bytes([0x00]))
    ac = _jpeg_segment(0xC4, bytes([0x10]) + one_code + bytes([0x00]))
    scan = _jpeg_segment(0xDA, bytes([1, 1, 0x00, 0, 63, 0]))
    blocks = (width // 8) * (height // 8)
    bits = "00" * blocks
    bits += "1" * (-len(bits) % 8)  # pad the last byte with ones, as the standard says
    entropy = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return b"\xff\xd8" + quant + frame + dc + ac + scan + entropy + b"\xff\xd9"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def pattern_png(seed: str, modules: int = 29, scale: int = 8, border: int = 4) -> bytes:
    """A black-and-white grid PNG that looks like a QR code and is derived from ``seed``."""
    digest = hashlib.sha256(seed.encode()).digest()
    bits = "".join(f"{b:08b}" for b in digest) * (modules * modules // 256 + 1)
    size = (modules + 2 * border) * scale
    rows = []
    for y in range(size):
        my = y // scale - border
        row = bytearray([0])  # filter type: none
        for x in range(size):
            mx = x // scale - border
            dark = 0 <= mx < modules and 0 <= my < modules and bits[my * modules + mx] == "1"
            row.append(0 if dark else 255)
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + _png_chunk(b"IEND", b"")
    )


MAP_JPEG = grey_jpeg()
"""The map snapshot attached to simulated location shares (image/jpeg)."""
