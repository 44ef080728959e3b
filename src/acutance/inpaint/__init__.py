"""Inpainting: fill the pixels a mask marks, leave every other pixel bit-exact.

``inpaint(rgb, mask, method="auto")``; ``rgb`` is the contract image (float32 HxWx3 in [0, 1]), ``mask`` a
float32 HxW array where 1 means fill. Methods: ``telea`` and ``ns`` (OpenCV's ``cv2.inpaint``), ``learned``
(a compact gated-convolution network at low resolution plus a full-resolution contextual residual
aggregation, run by onnxruntime) and ``auto`` (``choose_method``). See docs/inpaint.md.

Importing this package imports neither OpenCV, onnxruntime nor torch; each method imports what it needs.
"""

from acutance.inpaint.api import (
    AUTO_THIN_PX,
    METHODS,
    EmptyMaskWarning,
    MaskError,
    choose_method,
    inpaint,
    mask_thickness,
    prepare_mask,
)

__all__ = [
    "AUTO_THIN_PX",
    "METHODS",
    "EmptyMaskWarning",
    "MaskError",
    "choose_method",
    "inpaint",
    "mask_thickness",
    "prepare_mask",
]
