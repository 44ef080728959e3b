"""PNG chunk plumbing: what OpenCV's 16-bit PNG writer leaves out (ICC profile, EXIF, gray + alpha).

A chunk is ``length (4 bytes, big-endian) + type (4 bytes) + data + CRC32(type + data)``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXIF_PREFIX = b"Exif\x00\x00"  # JPEG's APP1 header; PNG's eXIf chunk holds the TIFF data without it


def make_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk of type ``kind`` (4 ASCII letters) holding ``data``."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def iccp_chunk(profile: bytes, name: bytes = b"ICC profile") -> bytes:
    """An ``iCCP`` chunk: profile name, NUL, compression method 0 (zlib), compressed profile."""
    return make_chunk(b"iCCP", name + b"\x00\x00" + zlib.compress(profile))


def exif_chunk(exif: bytes) -> bytes:
    """An ``eXIf`` chunk from raw EXIF, with or without the ``Exif\\0\\0`` prefix."""
    return make_chunk(b"eXIf", exif.removeprefix(EXIF_PREFIX))


def iter_chunks(png: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Yield ``(type, data)`` for each chunk of a PNG file; stops at the end of the data."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        yield png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        pos += 12 + length


def insert_before_idat(png: bytes, chunks: list[bytes]) -> bytes:
    """Insert ready-made chunks just before the first ``IDAT`` (iCCP must precede the image data)."""
    if not chunks:
        return png
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        if png[pos + 4 : pos + 8] == b"IDAT":
            return png[:pos] + b"".join(chunks) + png[pos:]
        pos += 12 + length
    raise ValueError("PNG data has no IDAT chunk")


def png_header(data: bytes) -> tuple[int, int] | None:
    """``(bit_depth, colour_type)`` from a PNG's IHDR, or None if ``data`` is not a PNG."""
    # IHDR is always the first chunk: signature(8) + length(4) + type(4) + width(4) + height(4).
    if len(data) < 26 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    return data[24], data[25]


def encode_png16(pixels: np.ndarray) -> bytes:
    """uint16 HxWxC (C = 1..4: gray, gray + alpha, RGB, RGBA) -> minimal 16-bit PNG bytes.

    Used for 16-bit gray + alpha, which OpenCV cannot encode. Filter type 0 on every row: simple, and
    16-bit data gains little from the other filters.
    """
    height, width, channels = pixels.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = pixels.astype(">u2").view(np.uint8).reshape(height, width * channels * 2)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + make_chunk(b"IHDR", header)
        + make_chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + make_chunk(b"IEND", b"")
    )
