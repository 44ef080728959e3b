"""The inpainting entry point and the mask checks every front end shares.

Mask rules (docs/inpaint.md):
- a mask is HxW (an HxWx1 array is accepted) of the image's own size; another size is a ``MaskError`` that
  states both sizes;
- it is thresholded: values >= 0.5 are filled (uint8 / uint16 masks are first scaled to [0, 1]; bool is
  taken as is); NaN is refused;
- an empty mask (nothing >= 0.5) is not an error: ``inpaint`` returns a copy of the input and issues an
  ``EmptyMaskWarning`` (a ``UserWarning``), the one notice front ends relay;
- a mask that covers every pixel is a ``MaskError``: there is nothing to fill from.
"""

from __future__ import annotations

import warnings

import numpy as np

from acutance.contract import check_rgb, to_float
from acutance.errors import OptionError

METHODS = ("auto", "telea", "ns", "learned")

# ``auto`` picks Telea when the mask's thickest part is at most this many pixels across (twice the largest
# distance from a masked pixel to the nearest kept one): scratches, thin strokes and text lines, where the
# classical diffusion is as good as the network and faster. Anything thicker goes to the learned method.
AUTO_THIN_PX = 12


class MaskError(OptionError):
    """A mask that cannot be used: wrong size, wrong shape, NaN, or covering the whole image."""


class EmptyMaskWarning(UserWarning):
    """The mask marks no pixel: the input is returned unchanged."""


def prepare_mask(mask: np.ndarray, shape: tuple[int, ...], name: str = "mask") -> np.ndarray:
    """The boolean HxW fill mask (True = fill) of ``mask`` for an image of ``shape`` (HxW or HxWxC), checked.

    Raises ``MaskError`` for a shape mismatch (both sizes in the message), a non-2-D mask, NaN, or a mask that
    covers every pixel. An empty result is returned as is; ``inpaint`` turns it into the notice.
    """
    if not isinstance(mask, np.ndarray):
        raise MaskError(f"{name} must be a numpy array, got {type(mask).__name__}")
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if mask.ndim != 2:
        raise MaskError(f"{name} must be a single-channel HxW array, got shape {mask.shape}")
    height, width = shape[:2]
    if mask.shape != (height, width):
        raise MaskError(f"{name} is {mask.shape[1]}x{mask.shape[0]} but the image is {width}x{height} (WxH)")
    if mask.dtype == bool:
        fill = mask.copy()
    else:
        try:
            values = to_float(mask)
        except OptionError as error:
            raise MaskError(f"{name}: {error}") from None
        if np.isnan(values).any():
            raise MaskError(f"{name} contains NaN")
        fill = values >= 0.5
    if fill.all():
        raise MaskError(f"{name} covers the whole {width}x{height} image: there is nothing left to fill from")
    return fill


def mask_thickness(fill: np.ndarray) -> float:
    """The width in pixels of the mask's thickest part: twice the largest distance to a kept pixel."""
    import cv2

    if not fill.any():
        return 0.0
    distance = cv2.distanceTransform(fill.astype(np.uint8), cv2.DIST_L2, 3)
    return 2.0 * float(distance.max())


def choose_method(fill: np.ndarray) -> str:
    """``auto``'s choice for a boolean fill mask: ``telea`` when it is at most ``AUTO_THIN_PX`` pixels thick
    everywhere (scratches, strokes, thin text), otherwise ``learned``."""
    return "telea" if mask_thickness(fill) <= AUTO_THIN_PX else "learned"


def inpaint(rgb: np.ndarray, mask: np.ndarray, method: str = "auto", **options) -> np.ndarray:
    """Fill the pixels where ``mask`` >= 0.5; every other pixel of the result equals ``rgb`` bit for bit.

    ``rgb``: float32 HxWx3 in [0, 1]. ``mask``: HxW, 1 = fill (see the module docstring for the rules).
    ``method``: ``auto`` (``choose_method``), ``telea``, ``ns`` or ``learned``. ``options`` go to the method:
    ``radius`` (telea/ns, default 3), ``model`` (learned: a path to another exported inpainting ONNX file).
    Returns a new float32 HxWx3 array.
    """
    check_rgb(rgb)
    if method not in METHODS:
        raise OptionError(f"unknown inpainting method {method!r}; known: {', '.join(METHODS)}")
    fill = prepare_mask(mask, rgb.shape)
    if not fill.any():
        warnings.warn("the mask is empty: the input is returned unchanged", EmptyMaskWarning, stacklevel=2)
        return rgb.copy()
    if method == "auto":
        method = choose_method(fill)
    if method in ("telea", "ns"):
        from acutance.inpaint.classical import inpaint_classical

        filled = inpaint_classical(rgb, fill, method, **options)
    else:
        from acutance.inpaint.runtime import inpaint_learned

        filled = inpaint_learned(rgb, fill, **options)
    np.clip(filled, 0.0, 1.0, out=filled)
    out = rgb.copy()
    np.copyto(out, filled, where=fill[:, :, None])  # only the hole's pixels change
    return out
