"""Video frames <-> the library's float32 RGB in [0, 1], without losing 10-bit precision.

Frames are read through 16-bit RGB (``rgb48le``), so a 10-bit input keeps all its levels; a >8-bit output is
written through 16-bit RGB too (rounded once, in swscale's RGB -> YUV step), an 8-bit one through 8-bit RGB.
The colour matrix and range are the stream's own in both
directions (BT.601 limited range when the stream does not say), so an identity model round-trips.
"""

from __future__ import annotations

import numpy as np

_UNSPECIFIED = 2  # AVCOL_SPC_UNSPECIFIED / AVCOL_PRI_UNSPECIFIED / AVCOL_TRC_UNSPECIFIED
_SWS_MATRIX = {1: 1, 5: 5, 6: 6, 7: 7, 9: 9, 10: 9, 4: 4}  # AVCOL_SPC -> SWS_CS (bt709, bt601, smpte240m, bt2020)


def _sws_matrix(colorspace: int) -> int:
    return _SWS_MATRIX.get(int(colorspace), 5)  # unknown: BT.601, swscale's default


def _sws_range(color_range: int) -> int:
    return 2 if int(color_range) == 2 else 1  # AVCOL_RANGE_JPEG (full) else MPEG (limited)


def frame_to_rgb(frame, colorspace: int, color_range: int) -> np.ndarray:
    """A decoded ``av.VideoFrame`` -> float32 HxWx3 RGB in [0, 1]."""
    rgb = frame.reformat(
        format="rgb48le",
        src_colorspace=_sws_matrix(colorspace),
        src_color_range=_sws_range(color_range),
        dst_color_range=2,
    ).to_ndarray()
    return rgb.astype(np.float32) * np.float32(1.0 / 65535.0)


def rgb_to_frame(rgb: np.ndarray, pix_fmt: str, colorspace: int, color_range: int):
    """float32 RGB in [0, 1] -> an ``av.VideoFrame`` in ``pix_fmt`` (colour tags set for the encoder)."""
    import av

    if "10" in pix_fmt or "12" in pix_fmt or "16" in pix_fmt:
        scaled = np.clip(rgb, 0.0, 1.0) * np.float32(65535.0)
        frame = av.VideoFrame.from_ndarray(np.rint(scaled, out=scaled).astype(np.uint16), format="rgb48le")
    else:
        # 8-bit output: 8-bit RGB into swscale is about twice as fast as 16-bit (720p: 10 ms vs 16 ms per
        # frame) and adds at most half a level of rounding before the 8-bit YUV rounding.
        scaled = np.clip(rgb, 0.0, 1.0) * np.float32(255.0)
        frame = av.VideoFrame.from_ndarray(np.rint(scaled, out=scaled).astype(np.uint8), format="rgb24")
    out = frame.reformat(
        format=pix_fmt,
        src_color_range=2,
        dst_colorspace=_sws_matrix(colorspace),
        dst_color_range=_sws_range(color_range),
    )
    if colorspace != _UNSPECIFIED:
        out.colorspace = colorspace
    out.color_range = color_range
    return out
