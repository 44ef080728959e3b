"""Masks from files, shared by the front ends (``acutance inpaint``, the web page, ``acutance video``).

What a mask file means (docs/inpaint.md, "Mask files"):
- a mask image with transparency (a layer painted on a transparent background, or the web page's brush): its
  opaque pixels are filled, whatever their colour;
- any other mask image (black and white, grey, or colour): the pixels whose brightest channel is >= 50% are
  filled, so white (or any bright colour) on black marks the holes;
- ``alpha``: the input's own alpha channel, where transparent pixels (alpha < 50%) are filled; the output then
  has no alpha, since its holes are filled.

Grey values (antialiased strokes, a JPEG mask) are thresholded at 50% (``acutance.inpaint.prepare_mask``), and
``is_binary`` tells the front ends when to say so. ``fit_mask`` checks the size (or rescales the mask when
asked), ``dilate`` grows a mask by whole pixels.
"""

from __future__ import annotations

import numpy as np

from acutance.inpaint.api import MaskError

# Within one 8-bit step of 0 or 1 a value counts as black or white; anything between (antialiased edges, a
# JPEG's ringing) is the grey the thresholding notice is about.
_BINARY_TOLERANCE = 1.0 / 255.0


def mask_values(image) -> np.ndarray:
    """float32 HxW in [0, 1] (1 = fill) from a mask :class:`acutance.io.Image`, before thresholding."""
    alpha = image.alpha
    if alpha is not None and float(alpha.min()) < 1.0:
        return np.ascontiguousarray(alpha, dtype=np.float32)
    return np.ascontiguousarray(image.rgb.max(axis=2), dtype=np.float32)


def alpha_values(image, name: str = "the input") -> np.ndarray:
    """float32 HxW (1 = fill) from an image's own alpha: its transparent pixels are the holes."""
    if image.alpha is None:
        raise MaskError(f"{name} has no alpha channel to use as the mask; give a mask image instead")
    return (np.float32(1.0) - image.alpha).astype(np.float32)


def is_binary(values: np.ndarray) -> bool:
    """Whether every value is black or white (within 1/255): no thresholding notice needed."""
    grey = (values > _BINARY_TOLERANCE) & (values < 1.0 - _BINARY_TOLERANCE)
    return not bool(grey.any())


def fit_mask(values: np.ndarray, shape: tuple[int, ...], *, resize: bool = False, name: str = "mask",
             image_name: str = "the image", hint: str = "") -> np.ndarray:
    """``values`` (HxW) for an image of ``shape``: returned as is when the sizes match, rescaled to it when
    ``resize`` (area-averaged when shrinking, bilinear when enlarging; thresholded later), else a ``MaskError``
    that states both sizes (``hint`` is appended, e.g. the flag that rescales)."""
    height, width = shape[:2]
    if values.shape[:2] == (height, width):
        return values
    if not resize:
        raise MaskError(
            f"{name} is {values.shape[1]}x{values.shape[0]} but {image_name} is {width}x{height}{hint}"
        )
    import cv2

    shrinking = values.shape[0] * values.shape[1] > height * width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(values.astype(np.float32), (width, height), interpolation=interpolation)


def dilate(fill: np.ndarray, pixels: int, name: str = "mask") -> np.ndarray:
    """A boolean mask grown by ``pixels`` (a disc), so that halos and antialiased edges are filled too."""
    if pixels < 0:
        raise MaskError(f"the dilation must be >= 0 pixels, got {pixels}")
    if pixels == 0 or not fill.any():
        return fill
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    grown = cv2.dilate(fill.astype(np.uint8), kernel) > 0
    if grown.all():
        height, width = fill.shape
        raise MaskError(f"{name} dilated by {pixels} px covers the whole {width}x{height} image: "
                        "there is nothing left to fill from; use a smaller dilation")  # fmt: skip
    return grown
