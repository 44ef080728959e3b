"""Face alignment: a similarity transform from 5 landmarks to the canonical 512x512 FFHQ template, and back.

API::

    FFHQ_TEMPLATE_512             # 5x2 (x, y): eye centres, nose tip, mouth corners (image-left first)
    template(size)                # the template scaled to a size x size crop
    similarity_transform(src5, dst5, weights=None) -> 2x3 affine A with dst ~ A @ [x, y, 1]
    face_transform(landmarks5, size=512) -> 2x3 affine that puts the eyes on the template (see there)
    align_face(rgb, landmarks5, size=512) -> (crop, affine)   # affine maps rgb pixels -> crop pixels
    scale_affine(affine, scale) -> affine that maps pixels of rgb resized by ``scale`` -> crop pixels
    inverse_warp(crop, affine, out_shape) -> (image, coverage)  # the crop in an image frame

Coordinates are OpenCV's: pixel (x, y) has its centre at integer (x, y). ``affine`` always goes from the
image to the crop; invert it with ``cv2.invertAffineTransform`` or use :func:`inverse_warp`. The template is
the one GFPGAN, CodeFormer and facexlib use (``face_template`` in facexlib's face_restoration_helper), so
checkpoints trained on FFHQ-aligned faces see faces where they expect them.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from acutance.contract import check_rgb
from acutance.errors import OptionError

FFHQ_TEMPLATE_512 = np.array(
    [
        [192.98138, 239.94708],  # eye centre, image-left (the subject's right eye)
        [318.90277, 240.19360],  # eye centre, image-right
        [256.63416, 314.01935],  # nose tip
        [201.26117, 371.41043],  # mouth corner, image-left
        [313.08905, 371.15118],  # mouth corner, image-right
    ],
    dtype=np.float64,
)
FFHQ_TEMPLATE_512.setflags(write=False)

# How much farther apart than the template's the eyes-to-mouth distance may come out. Eyes alone set the
# scale of a frontal face; on a turned face the eyes come closer together and an eye-only scale would
# blow the face up past the crop, so there the eye-to-mouth distance caps it (FFHQ's own alignment takes
# the larger of the two distances for the same reason).
MAX_EYE_MOUTH_STRETCH = 1.25


def template(size: int = 512) -> np.ndarray:
    """The FFHQ template for a ``size`` x ``size`` crop (pixel centres scale about the corner, like facexlib)."""
    _check_size(size)
    return FFHQ_TEMPLATE_512 * (size / 512.0)


def _check_size(size: int) -> None:
    if not isinstance(size, (int, np.integer)) or size < 16:
        raise OptionError(f"face crop size must be an integer >= 16, got {size!r}")


def _check_points(points: np.ndarray, name: str) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] < 2:
        raise OptionError(f"{name} must be Nx2 (x, y) points with N >= 2, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise OptionError(f"{name} has non-finite coordinates")
    return p


def similarity_transform(src5: np.ndarray, dst5: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation; no reflection) taking src to dst.

    Returns the 2x3 matrix ``A`` with ``dst ~ A[:, :2] @ src + A[:, 2]`` (weighted least squares with
    ``weights``, one per point, default equal). Umeyama's closed form on complex numbers: with centred
    points ``s``, ``d``, the map ``z -> c z`` minimising ``sum w |d - c s|^2`` is ``c = sum w conj(s) d /
    sum w |s|^2``.
    """
    src = _check_points(src5, "source landmarks")
    dst = _check_points(dst5, "destination landmarks")
    if src.shape != dst.shape:
        raise OptionError(f"source and destination landmarks differ in shape: {src.shape} vs {dst.shape}")
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(src),) or np.any(w < 0) or w.sum() <= 0:
        raise OptionError(f"weights must be {len(src)} non-negative numbers with a positive sum")
    w = w / w.sum()
    zs = src[:, 0] + 1j * src[:, 1]
    zd = dst[:, 0] + 1j * dst[:, 1]
    ms, md = np.sum(w * zs), np.sum(w * zd)
    s, d = zs - ms, zd - md
    denominator = np.sum(w * np.abs(s) ** 2)
    if denominator < 1e-12:
        raise OptionError("source landmarks are all at one point: no transform is defined")
    c = np.sum(w * np.conj(s) * d) / denominator
    t = md - c * ms
    return np.array([[c.real, -c.imag, t.real], [c.imag, c.real, t.imag]], dtype=np.float64)


def affine_scale(affine: np.ndarray) -> float:
    """The uniform scale factor of a similarity ``affine`` (crop pixels per image pixel)."""
    a = np.asarray(affine, dtype=np.float64)
    return float(math.sqrt(abs(np.linalg.det(a[:, :2]))))


def apply_affine(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map Nx2 points through a 2x3 affine."""
    p = np.asarray(points, dtype=np.float64)
    return p @ np.asarray(affine, dtype=np.float64)[:, :2].T + np.asarray(affine, dtype=np.float64)[:, 2]


def scale_affine(affine: np.ndarray, scale: float) -> np.ndarray:
    """The image->crop affine for the image resized by ``scale`` (pixel centres: x = (u + 0.5)/scale - 0.5)."""
    if not (math.isfinite(scale) and scale > 0):
        raise OptionError(f"scale must be a positive number, got {scale}")
    a = np.asarray(affine, dtype=np.float64)
    # u (resized pixels) -> x (original pixels): x = u / scale + (0.5 / scale - 0.5)
    to_original = np.array([[1 / scale, 0, 0.5 / scale - 0.5], [0, 1 / scale, 0.5 / scale - 0.5], [0, 0, 1]])
    return (np.vstack([a, [0, 0, 1]]) @ to_original)[:2]


def face_transform(landmarks5: np.ndarray, size: int = 512) -> np.ndarray:
    """The image->crop similarity that puts the eye centres of ``landmarks5`` on the template's.

    Rotation and translation come from the two eyes; so does the scale, unless that would make the
    eye-to-mouth distance more than ``MAX_EYE_MOUTH_STRETCH`` times the template's (a turned face), in
    which case the scale is reduced to that bound. A least-squares fit of all five points cannot put the
    eyes on the template for faces whose proportions differ from the template's (residuals of 5-10 px at
    512 on real faces), and the restorers rely on the eyes most.
    """
    _check_size(size)
    points = _check_points(landmarks5, "landmarks5")
    if points.shape != (5, 2):
        raise OptionError(f"landmarks5 must be 5x2, got shape {points.shape}")
    dst = template(size)
    eye_src = np.linalg.norm(points[1] - points[0])
    if eye_src < 1e-6:
        raise OptionError("landmarks5: the two eye centres coincide")
    affine = similarity_transform(points[:2], dst[:2])
    mouth_src = np.linalg.norm((points[3] + points[4]) / 2 - (points[0] + points[1]) / 2)
    mouth_dst = np.linalg.norm((dst[3] + dst[4]) / 2 - (dst[0] + dst[1]) / 2)
    scale = affine_scale(affine)
    limit = MAX_EYE_MOUTH_STRETCH * mouth_dst / max(mouth_src, 1e-6)
    if scale > limit:
        # Shrink about the template's eye midpoint, keeping the eyes' direction and centre.
        centre = (dst[0] + dst[1]) / 2
        shrink = limit / scale
        affine = affine * shrink
        affine[:, 2] += centre * (1 - shrink)
    return affine


def align_face(rgb: np.ndarray, landmarks5: np.ndarray, size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """``(crop, affine)``: the face warped onto the template in a ``size`` x ``size`` float32 crop.

    ``affine`` (2x3) maps ``rgb`` pixel coordinates to crop coordinates. Outside the image the crop is
    filled by reflection (as the FFHQ alignment pads), so a face at the border still fills the crop.
    When the face is larger than the crop, it is warped at an integer multiple of ``size`` and reduced
    with area averaging, so a big face is not aliased.
    """
    check_rgb(rgb)
    affine = face_transform(landmarks5, size)
    factor = max(1, min(8, int(math.ceil(1.0 / max(affine_scale(affine), 1e-6) - 1e-6))))
    if factor == 1:
        crop = cv2.warpAffine(rgb, affine, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    else:
        big = cv2.warpAffine(
            rgb,
            scale_affine_inverse_size(affine, factor),
            (size * factor, size * factor),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
        crop = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
    return np.clip(crop, 0.0, 1.0).astype(np.float32, copy=False), affine


def scale_affine_inverse_size(affine: np.ndarray, factor: int) -> np.ndarray:
    """The image->crop affine for a crop ``factor`` times larger (crop pixel centres: v = factor (c + 0.5) - 0.5)."""
    a = np.asarray(affine, dtype=np.float64) * factor
    a[:, 2] += 0.5 * (factor - 1)
    return a


def inverse_warp(
    crop: np.ndarray, affine: np.ndarray, out_shape: tuple[int, int], *, interpolation: int = cv2.INTER_LINEAR
) -> tuple[np.ndarray, np.ndarray]:
    """``(image, coverage)``: ``crop`` warped back into an ``out_shape`` (H, W) frame.

    ``affine`` maps the frame's pixels to crop pixels (from :func:`align_face`, through :func:`scale_affine`
    for an upscaled frame). ``coverage`` (float32 HxW in [0, 1]) is 1 where the frame pixel fell inside the
    crop and 0 outside, with the interpolated edge in between; ``image`` is 0 outside.
    """
    height, width = int(out_shape[0]), int(out_shape[1])
    if height < 1 or width < 1:
        raise OptionError(f"output shape must be positive, got {out_shape}")
    a = np.asarray(affine, dtype=np.float64)
    if a.shape != (2, 3):
        raise OptionError(f"affine must be 2x3, got shape {a.shape}")
    # WARP_INVERSE_MAP: dst(x) = src(affine @ x), i.e. sample the crop at the frame pixel's crop position.
    flags = interpolation | cv2.WARP_INVERSE_MAP
    image = cv2.warpAffine(
        np.ascontiguousarray(crop, dtype=np.float32),
        a,
        (width, height),
        flags=flags,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    ones = np.ones(crop.shape[:2], dtype=np.float32)
    coverage = cv2.warpAffine(
        ones,
        a,
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return image, coverage
