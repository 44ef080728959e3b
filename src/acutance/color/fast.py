"""float32 MATLAB YCbCr for hot paths, and the colour path every luma model shares.

The conversions are ``cv2.transform`` with 3x4 affine maps read off the float64 reference
(:mod:`acutance.color.ycbcr`): several times faster and multi-threaded, within ~1e-7 of the reference (far
below an 8-bit step). Luma models (LUT, edge-SR, LeRF) filter Y and take Cb/Cr by MATLAB bicubic:
:func:`upscale_luma` is that path, written once. RAISR upscalers, whose layers touch only Y, take Cb/Cr by
OpenCV's bicubic instead (``acutance.raisr.model.initial_state``: 3x faster, visually the same).
"""

from __future__ import annotations

from collections.abc import Callable

import numba as nb
import numpy as np

from acutance.color.ycbcr import rgb_to_ycbcr, ycbcr_to_rgb


def _affine(convert) -> np.ndarray:
    """The 3x4 matrix [A | b] of an affine colour conversion, read off the reference function."""
    origin = np.asarray(convert(np.zeros((1, 1, 3))), np.float64)[0, 0]
    columns = np.asarray(convert(np.eye(3)[None]), np.float64)[0] - origin
    return np.hstack([columns.T, origin[:, None]])


TO_YCBCR = _affine(rgb_to_ycbcr)  # RGB [0, 1] -> YCbCr [0, 1]
TO_RGB = _affine(ycbcr_to_rgb)  # YCbCr [0, 1] -> RGB (not clipped)
# the same inverse for a Y plane on the 0-255 scale (what the luma models output): rgb = M @ (y255, cb, cr) + b
_Y255_TO_RGB = np.ascontiguousarray(TO_RGB[:, :3] * np.array([1.0 / 255.0, 1.0, 1.0]), np.float32)
_Y255_OFFSET = np.ascontiguousarray(TO_RGB[:, 3], np.float32)


def transform(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """float32 HxWx3 through a 3x4 affine colour map (``TO_YCBCR`` or ``TO_RGB``)."""
    import cv2

    return cv2.transform(np.ascontiguousarray(image, dtype=np.float32), matrix)


@nb.njit(parallel=True, cache=True)
def _merge(y255, chroma, matrix, offset, out):
    # fused: no float64 temporaries (the numpy version costs more than a whole LUT stage at 4K)
    height, width = y255.shape
    for i in nb.prange(height):
        for j in range(width):
            a = y255[i, j]
            b = chroma[i, j, 0]
            c = chroma[i, j, 1]
            for k in range(3):
                out[i, j, k] = matrix[k, 0] * a + matrix[k, 1] * b + matrix[k, 2] * c + offset[k]


def luma_chroma_to_rgb(y255: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """float32 HxWx3 RGB (not clipped) from Y (HxW, 0-255) and Cb/Cr (HxWx2 in [0, 1]): MATLAB ``ycbcr2rgb``."""
    out = np.empty((*y255.shape, 3), np.float32)
    _merge(np.ascontiguousarray(y255, np.float32), np.ascontiguousarray(chroma, np.float32), _Y255_TO_RGB,
           _Y255_OFFSET, out)  # fmt: skip
    return out


def upscale_luma(rgb: np.ndarray, luma: Callable[[np.ndarray], np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """The luma models' colour path: float32 HxWx3 RGB in [0, 1] -> RGB of ``size`` (rows, cols).

    ``luma`` maps the Y plane (float32 HxW in [0, 1]) to the output Y of ``size`` on the 0-255 scale; Cb and
    Cr are resized by MATLAB-exact bicubic, as the SR protocol's reference does.
    """
    from acutance.resize import imresize

    ycc = transform(rgb, TO_YCBCR)
    y255 = luma(np.ascontiguousarray(ycc[:, :, 0]))
    if y255.shape != tuple(size):
        raise ValueError(f"the luma function returned {y255.shape}, expected {tuple(size)}")
    return luma_chroma_to_rgb(y255, imresize(ycc[:, :, 1:], size=tuple(size)))
