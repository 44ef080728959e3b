"""The face pipeline on one image: detect -> align -> restore -> paste back (METHODS.md section 6).

API::

    restorer = load_restorer("face-restore")       # or any callable crop -> crop (see below)
    out, report = enhance_faces(rgb, restorer, fidelity=0.7)
    out, report = enhance_faces(rgb, restorer, upscaled_background=big)   # faces onto an upscaled image
    report.faces      # FaceOutcome per detected face: box, score, size, status ('restored' | 'too small')
    report.notices    # one line each: no face found, faces skipped as too small

A restorer is any callable ``crop -> crop`` on float32 ``S x S x 3`` RGB in [0, 1] faces aligned on the
FFHQ template (``acutance.faces.align``; S = ``size``, 512 by default). Faces are detected and cut from
the input image (the restorer sees the real pixels, not an upscaler's guess) and pasted onto the
background: the input itself, or ``upscaled_background`` (the input upscaled by any model), using the
crop's transform scaled to the background's size. ``fidelity`` 0 returns the background unchanged, bit for
bit; 1 pastes the full (colour-matched) restoration inside the face mask.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from acutance.contract import check_rgb
from acutance.errors import ModelError, OptionError

DEFAULT_RESTORER = "face-restore"
DEFAULT_FIDELITY = 0.7
DEFAULT_MIN_SIZE = 32
Restorer = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class FaceOptions:
    """How faces are found and blended (validated on creation)."""

    detector: str = "hog"  # 'hog' | 'cnn'
    threshold: float = 0.0  # detector score threshold (dlib's scale; 0 = dlib's default operating point)
    min_size: float = DEFAULT_MIN_SIZE  # faces whose box side (input pixels) is smaller are left alone
    fidelity: float = DEFAULT_FIDELITY  # 0 = input unchanged .. 1 = full restoration
    colour_match: bool = True  # match the restored face's Lab statistics to the original face's
    size: int = 512  # side of the aligned crop given to the restorer
    upsample: int | None = None  # detector upsampling (None: automatic, see detect.detect_faces)

    def __post_init__(self) -> None:
        from acutance.faces.detect import DETECTORS
        from acutance.faces.paste import _check_fidelity

        if self.detector not in DETECTORS:
            raise OptionError(f"unknown face detector {self.detector!r}: expected one of {', '.join(DETECTORS)}")
        if not np.isfinite(self.threshold):
            raise OptionError(f"face detection threshold must be finite, got {self.threshold}")
        if not (np.isfinite(self.min_size) and self.min_size >= 0):
            raise OptionError(f"minimum face size must be >= 0 pixels, got {self.min_size}")
        _check_fidelity(self.fidelity)
        if not isinstance(self.size, int) or self.size < 16:
            raise OptionError(f"face crop size must be an integer >= 16, got {self.size!r}")


@dataclass(frozen=True)
class FaceOutcome:
    """What happened to one detected face (box in input pixels)."""

    box: tuple[float, float, float, float]
    score: float
    size: float
    status: str  # 'restored' | 'too small'


@dataclass
class FaceReport:
    """The faces found in one image and what was done, with notices for the user."""

    faces: list[FaceOutcome] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def restored(self) -> int:
        return sum(face.status == "restored" for face in self.faces)

    @property
    def skipped(self) -> int:
        return sum(face.status != "restored" for face in self.faces)


def load_restorer(name: str | os.PathLike = DEFAULT_RESTORER) -> Restorer:
    """A face restorer by name or file (``acutance.faces.restorer``), imported only when asked for."""
    try:
        from acutance.faces.restorer import load_restorer as _load
    except ImportError as error:
        raise ModelError(
            f"face restorer {str(name)!r} unavailable: the face restorer module failed to load ({error})"
        ) from None
    return _load(name)


def _restore(restorer: Restorer, crop: np.ndarray) -> np.ndarray:
    result = restorer(crop)
    if not isinstance(result, np.ndarray) or result.shape != crop.shape:
        got = result.shape if isinstance(result, np.ndarray) else type(result).__name__
        raise ModelError(f"face restorer returned {got}, expected an array of the crop's shape {crop.shape}")
    if not np.all(np.isfinite(result)):
        raise ModelError("face restorer returned non-finite values")
    return np.clip(result.astype(np.float32, copy=False), 0.0, 1.0)


def enhance_faces(
    rgb: np.ndarray,
    restorer: Restorer,
    *,
    upscaled_background: np.ndarray | None = None,
    scale: float = 1.0,
    fidelity: float = DEFAULT_FIDELITY,
    detector: str = "hog",
    threshold: float = 0.0,
    min_size: float = DEFAULT_MIN_SIZE,
    colour_match: bool = True,
    size: int = 512,
    upsample: int | None = None,
    faces: list | None = None,
) -> tuple[np.ndarray, FaceReport]:
    """``(result, report)``: ``rgb``'s faces restored by ``restorer`` and pasted onto the background.

    The background is ``upscaled_background`` when given (its size fixes the scale), else ``rgb``
    resized by ``scale`` (MATLAB bicubic; ``scale=1``: ``rgb`` itself). ``faces`` (from
    ``detect.detect_faces``) skips detection; otherwise faces are detected in ``rgb`` with ``detector``,
    ``threshold`` and ``upsample``, and those smaller than ``min_size`` input pixels are left alone. An
    image without faces comes back as the background, unchanged, with a notice in the report.
    """
    from acutance.faces.align import align_face, scale_affine
    from acutance.faces.detect import detect_all
    from acutance.faces.paste import paste_back

    check_rgb(rgb)
    options = FaceOptions(
        detector=detector,
        threshold=threshold,
        min_size=min_size,
        fidelity=fidelity,
        colour_match=colour_match,
        size=size,
        upsample=upsample,
    )
    height, width = rgb.shape[:2]
    if upscaled_background is not None:
        background = check_rgb(upscaled_background, "upscaled background")
        scale_y, scale_x = background.shape[0] / height, background.shape[1] / width
        if abs(scale_y - scale_x) > 0.02 * max(scale_x, scale_y) + 1.0 / min(height, width):
            raise OptionError(
                f"the upscaled background {background.shape[1]}x{background.shape[0]} is not the input "
                f"{width}x{height} scaled evenly"
            )
        scale = background.shape[1] / width  # the width fixes the pixel grid, as imresize's output size does
    else:
        if not (np.isfinite(scale) and scale > 0):
            raise OptionError(f"scale must be a positive number, got {scale}")
        if scale == 1:
            background = rgb
        else:
            from acutance.resize import imresize

            background = np.clip(imresize(rgb, scale), 0.0, 1.0).astype(np.float32)

    report = FaceReport()
    if faces is None:
        kept, small = detect_all(
            rgb,
            detector=options.detector,
            threshold=options.threshold,
            min_size=options.min_size,
            upsample=options.upsample,
        )
    else:
        kept = [face for face in faces if face.size >= options.min_size]
        small = [face for face in faces if face.size < options.min_size]
    for face in small:
        report.faces.append(FaceOutcome(face.box, face.score, face.size, "too small"))
    if small:
        report.notices.append(
            f"{len(small)} face(s) smaller than the minimum size {options.min_size:g} px left as they are "
            f"(largest {max(face.size for face in small):.0f} px)"
        )
    if not kept:
        if not small:
            report.notices.append("no face found; the image is returned unchanged")
        return background.copy(), report

    out = background.copy()
    for face in kept:
        crop, affine = align_face(rgb, face.landmarks5, options.size)
        restored = _restore(restorer, crop)
        target_affine = affine if background is rgb else scale_affine(affine, scale)
        out = paste_back(out, restored, target_affine, fidelity=options.fidelity, colour_match=options.colour_match)
        report.faces.append(FaceOutcome(face.box, face.score, face.size, "restored"))
    return out, report
