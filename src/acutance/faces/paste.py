"""Paste a restored face crop back into its image: feathered face mask, colour matching, fidelity blend.

API::

    face_mask(size=512) -> float32 size x size in [0, 1]     # the feathered template face region
    paste_back(background, restored_crop, affine, *, fidelity, colour_match=True) -> rgb
    match_colour(restored_crop, original_crop, mask) -> crop  # Lab statistics of the skin
    boundary_gradient_energy(image, alpha) -> (boundary, interior)   # the seam measurement

``affine`` maps ``background`` pixels to crop pixels (``acutance.faces.align``: ``align_face`` gives it
for the image the crop was cut from, ``scale_affine`` turns it into the one for an upscaled background).

Why each step: a square paste leaves a visible seam where the restorer's output meets the untouched
image, so the blend weight is an ellipse over the template's face (forehead to chin, cheek to cheek), eroded
and Gaussian-blurred, so it reaches 0 before the crop's border and changes slowly. Restorers shift colour
(skin tones pulled to their training set's mean), which a feather alone turns into a halo, so the restored
crop's Lab mean (and a/b spread) inside the face is matched to the original face's before blending.
``fidelity`` scales the blend weight: 0 leaves the background exactly as it was, 1 pastes the full
restoration inside the face.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from acutance.contract import check_rgb
from acutance.errors import OptionError
from acutance.faces.align import affine_scale, inverse_warp

# The face region on the 512 template (FFHQ_TEMPLATE_512: eyes at y 240, mouth at y 371): an ellipse from
# the upper forehead to below the chin and across the cheeks, in 512-crop pixels.
MASK_CENTRE_512 = (256.0, 292.0)
MASK_AXES_512 = (145.0, 185.0)
# Feather: the ellipse is eroded by 2 sigma and blurred with this sigma (512-crop pixels), so the weight
# is ~0.02 at the ellipse's edge and reaches 1 about 4 sigma inside it.
FEATHER_SIGMA_512 = 12.0
# Colour matching: the reference statistics come from where the feathered mask is at least this high.
_CORE_LEVEL = 0.9
# Bounds on the a/b spread ratio, so a restorer's grey or saturated output is not stretched wildly.
_SPREAD_RATIO = (0.5, 2.0)


@functools.lru_cache(maxsize=8)
def _face_mask_cached(size: int) -> np.ndarray:
    k = size / 512.0
    hard = np.zeros((size, size), dtype=np.float32)
    sigma = FEATHER_SIGMA_512 * k
    axes = (max(1, int(round(MASK_AXES_512[0] * k - 2 * sigma))), max(1, int(round(MASK_AXES_512[1] * k - 2 * sigma))))
    # Drawn with 8x sub-pixel precision so the mask does not depend on rounding of the centre.
    shift = 3
    centre = (int(round(MASK_CENTRE_512[0] * k * (1 << shift))), int(round(MASK_CENTRE_512[1] * k * (1 << shift))))
    cv2.ellipse(
        hard,
        centre,
        (axes[0] << shift, axes[1] << shift),
        0,
        0,
        360,
        1.0,
        thickness=-1,
        lineType=cv2.LINE_AA,
        shift=shift,
    )
    mask = cv2.GaussianBlur(hard, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_CONSTANT)
    # The blur's tail leaves the centre a hair under 1; stretch it so the core is exactly 1 and
    # fidelity 1 means the full restoration there.
    mask = np.clip(mask / np.float32(0.995), 0.0, 1.0)
    mask.setflags(write=False)
    return mask


def face_mask(size: int = 512) -> np.ndarray:
    """The feathered face-region blend weight for a ``size`` x ``size`` template crop (read-only)."""
    if not isinstance(size, (int, np.integer)) or size < 16:
        raise OptionError(f"face crop size must be an integer >= 16, got {size!r}")
    return _face_mask_cached(int(size))


def match_colour(restored: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``restored`` with its Lab mean (L, a, b) and a/b spread inside ``mask`` set to ``original``'s.

    L's spread is left alone: a restorer that brings back contrast and detail should keep it; only the
    tone and colour cast are corrected. ``mask`` (HxW) selects the skin: pixels where it is >= 0.9.
    """
    core = np.asarray(mask) >= _CORE_LEVEL
    if core.sum() < 16:
        return restored
    lab_r = cv2.cvtColor(np.clip(restored, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)
    lab_o = cv2.cvtColor(np.clip(original, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)
    r, o = lab_r[core].astype(np.float64), lab_o[core].astype(np.float64)
    mean_r, mean_o = r.mean(axis=0), o.mean(axis=0)
    std_r, std_o = r.std(axis=0), o.std(axis=0)
    ratio = np.ones(3)
    ratio[1:] = np.clip(std_o[1:] / np.maximum(std_r[1:], 1e-6), *_SPREAD_RATIO)
    out = (lab_r - mean_r) * ratio + mean_o
    rgb = cv2.cvtColor(out.astype(np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def _check_fidelity(fidelity: float) -> float:
    if not (isinstance(fidelity, (int, float, np.floating)) and math.isfinite(fidelity) and 0.0 <= fidelity <= 1.0):
        raise OptionError(
            f"fidelity must be a number in 0..1 (0 = input unchanged, 1 = full restoration), got {fidelity!r}"
        )
    return float(fidelity)


def _footprint(affine: np.ndarray, size: int, height: int, width: int) -> tuple[int, int, int, int] | None:
    """The background rectangle (x0, y0, x1, y1) that the crop covers, clipped; None if it misses."""
    inverse = cv2.invertAffineTransform(np.asarray(affine, dtype=np.float64))
    corners = np.array([[-1, -1], [size, -1], [-1, size], [size, size]], dtype=np.float64)
    mapped = corners @ inverse[:, :2].T + inverse[:, 2]
    x0 = max(0, int(math.floor(mapped[:, 0].min())) - 1)
    y0 = max(0, int(math.floor(mapped[:, 1].min())) - 1)
    x1 = min(width, int(math.ceil(mapped[:, 0].max())) + 2)
    y1 = min(height, int(math.ceil(mapped[:, 1].max())) + 2)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _shrink_crop(crop: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Area-shrink a crop that lands on far fewer background pixels, so the warp back does not alias."""
    density = affine_scale(affine)  # crop pixels per background pixel
    if density < 2.0:
        return crop, affine
    size = crop.shape[0]
    new = max(8, int(round(size / math.floor(density))))
    ratio = new / size
    small = cv2.resize(crop, (new, new), interpolation=cv2.INTER_AREA)
    a = np.asarray(affine, dtype=np.float64) * ratio
    a[:, 2] += 0.5 * (ratio - 1)  # crop pixel centres: v' = ratio (v + 0.5) - 0.5
    return small.reshape(new, new, *crop.shape[2:]), a


def paste_back(
    background: np.ndarray,
    restored_crop: np.ndarray,
    affine: np.ndarray,
    *,
    fidelity: float,
    colour_match: bool = True,
    return_alpha: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """``background`` with the restored face blended in (float32 HxWx3; the input is not modified).

    ``restored_crop``: float32 SxSx3 on the template; ``affine``: background pixels -> crop pixels.
    Inside the face the result is ``background + a (face - background)`` with ``a = fidelity * mask``, so
    ``fidelity=0`` returns ``background`` exactly and ``fidelity=1`` the colour-matched restoration where
    the mask is 1. With ``return_alpha`` the per-pixel blend weight ``a`` (HxW) comes back too.
    """
    check_rgb(background, "background")
    check_rgb(restored_crop, "restored face crop")
    size = restored_crop.shape[0]
    if restored_crop.shape[1] != size:
        raise OptionError(f"the restored face crop must be square, got {restored_crop.shape[:2]}")
    fidelity = _check_fidelity(fidelity)
    a = np.asarray(affine, dtype=np.float64)
    if a.shape != (2, 3) or not np.all(np.isfinite(a)):
        raise OptionError(f"affine must be a finite 2x3 matrix, got shape {a.shape}")
    height, width = background.shape[:2]
    out = background.copy()
    alpha_full = np.zeros((height, width), dtype=np.float32)
    box = _footprint(a, size, height, width) if fidelity > 0 else None
    if box is None:
        return (out, alpha_full) if return_alpha else out
    x0, y0, x1, y1 = box
    # The affine for the region of interest: region pixel (u, v) is background pixel (u + x0, v + y0).
    a_roi = a.copy()
    a_roi[:, 2] += a[:, :2] @ np.array([x0, y0], dtype=np.float64)
    region = background[y0:y1, x0:x1]
    mask = face_mask(size)
    face = np.clip(restored_crop, 0.0, 1.0)
    if colour_match:
        original = cv2.warpAffine(
            np.ascontiguousarray(region),
            a_roi,
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
        face = match_colour(face, original, mask)
    face_small, a_face = _shrink_crop(face, a_roi)
    mask_small, a_mask = _shrink_crop(np.ascontiguousarray(mask), a_roi)
    warped, _ = inverse_warp(face_small, a_face, region.shape[:2], interpolation=cv2.INTER_CUBIC)
    weight, coverage = inverse_warp(mask_small, a_mask, region.shape[:2])
    alpha = np.clip(weight, 0.0, 1.0) * coverage
    alpha[alpha >= 0.9999] = 1.0  # interpolation rounding: a core weight of 0.99999994 is 1
    alpha = (alpha * np.float32(fidelity)).astype(np.float32)
    blended = region + alpha[..., None] * (np.clip(warped, 0.0, 1.0) - region)
    out[y0:y1, x0:x1] = np.where(alpha[..., None] > 0, blended, region)
    alpha_full[y0:y1, x0:x1] = alpha
    return (out, alpha_full) if return_alpha else out


def boundary_gradient_energy(
    image: np.ndarray, alpha: np.ndarray, *, low: float = 0.02, high: float = 0.98
) -> tuple[float, float]:
    """``(boundary, interior)``: mean squared gradient magnitude of ``image`` along a paste boundary and inside.

    The boundary band is where the blend weight ``alpha`` is in (``low``, ``high``) (the feather) widened
    by 2 px each side so a hard seam (a step in ``alpha``) is caught too; the interior is where
    ``alpha >= high`` minus that widening. Gradients are central differences on the luma of ``image``.
    A seam shows as boundary energy well above the interior's.
    """
    check_rgb(image)
    luma = image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    gy, gx = np.gradient(luma.astype(np.float64))
    energy = gx**2 + gy**2
    a = np.asarray(alpha, dtype=np.float32)
    band = ((a > low) & (a < high)).astype(np.uint8)
    edges = (
        cv2.dilate((a >= high).astype(np.uint8), np.ones((3, 3), np.uint8))
        != cv2.erode((a >= high).astype(np.uint8), np.ones((3, 3), np.uint8))
    ).astype(np.uint8)
    boundary = cv2.dilate(np.maximum(band, edges), np.ones((5, 5), np.uint8)).astype(bool)
    interior = (a >= high) & ~boundary
    if not boundary.any() or not interior.any():
        raise OptionError("the blend weight has no boundary band or no interior to compare")
    return float(energy[boundary].mean()), float(energy[interior].mean())
