"""Face detection and landmarks with dlib (extra ``faces``: ``dlib-bin`` + ``face_recognition_models``).

API (used by the rest of ``acutance.faces``)::

    faces = detect_faces(rgb, detector="hog", threshold=0.0, min_size=0)   # list[Face], largest first
    face.box          # (x0, y0, x1, y1) float pixels, x1/y1 exclusive, in ``rgb``'s coordinates
    face.score        # detector confidence (HOG: SVM margin; CNN: MMOD confidence); higher is surer
    face.landmarks5   # 5x2 float64 (x, y): eye centres (image-left, image-right), nose tip,
                      # mouth corners (image-left, image-right): the GFPGAN/FFHQ template convention
    face.landmarks68  # 68x2 float64, dlib's iBUG 300-W points (the source of landmarks5)
    face.size         # box side in pixels: the size that ``min_size`` compares with

    landmarks_for_box(rgb, box) -> (landmarks5, landmarks68)   # landmarks in a given box, e.g. on an
                                                               # aligned crop (the alignment test does this)
    dlib_model_file("recognition" | "landmarks68" | "landmarks5" | "cnn") -> Path

``rgb`` is the library contract, ``float32 HxWx3 RGB in [0, 1]``. The eye centres are the mean of the six
eye-contour points (36-41, 42-47), which sits on the pupil like RetinaFace's eye points that the template was
made with; the nose is point 30 (the tip) and the mouth corners are points 48 and 54. The model files come
from ``face_recognition_models``; they are located without importing that package, whose ``__init__``
needs ``pkg_resources`` (setuptools) at import time.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acutance.contract import check_rgb, to_uint
from acutance.errors import ModelError, OptionError

DETECTORS = ("hog", "cnn")
# Files inside the face_recognition_models package (models/ folder).
_MODEL_FILES = {
    "landmarks68": "shape_predictor_68_face_landmarks.dat",
    "landmarks5": "shape_predictor_5_face_landmarks.dat",
    "cnn": "mmod_human_face_detector.dat",
    "recognition": "dlib_face_recognition_resnet_model_v1.dat",
}
# Above this many pixels the HOG/CNN detectors run without upsampling (it quadruples the work); below it
# they upsample once, which finds faces down to about 40 px instead of 80 px.
_UPSAMPLE_LIMIT_PIXELS = 2_500_000


@dataclass(frozen=True)
class Face:
    """One detected face in image coordinates (see the module docstring for the conventions)."""

    box: tuple[float, float, float, float]
    score: float
    landmarks5: np.ndarray
    landmarks68: np.ndarray | None = field(default=None, repr=False)
    detector: str = "hog"

    @property
    def size(self) -> float:
        """The box side in pixels (the smaller of width and height)."""
        x0, y0, x1, y1 = self.box
        return float(min(x1 - x0, y1 - y0))


def _dlib():
    try:
        import dlib
    except ImportError as error:
        raise ModelError(
            "face detection needs dlib: install the 'faces' extra (pip install 'acutance[faces]', "
            f"which brings dlib-bin and face_recognition_models); import failed: {error}"
        ) from None
    return dlib


def dlib_model_file(kind: str) -> Path:
    """Path of one of the dlib model files shipped by ``face_recognition_models``; ``ModelError`` if absent."""
    if kind not in _MODEL_FILES:
        raise OptionError(f"unknown dlib model {kind!r}: expected one of {', '.join(_MODEL_FILES)}")
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "face models not found: install the 'faces' extra (pip install 'acutance[faces]', which brings "
            "face_recognition_models)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / _MODEL_FILES[kind]
    if not path.is_file():
        raise ModelError(f"face model file missing: {path} (reinstall face_recognition_models)")
    return path


@functools.cache
def _hog_detector():
    return _dlib().get_frontal_face_detector()


@functools.cache
def _cnn_detector():
    return _dlib().cnn_face_detection_model_v1(str(dlib_model_file("cnn")))


@functools.cache
def _predictor68():
    return _dlib().shape_predictor(str(dlib_model_file("landmarks68")))


def five_from_68(points68: np.ndarray) -> np.ndarray:
    """5 template points (eye centres, nose tip, mouth corners; image-left first) from 68 iBUG points."""
    p = np.asarray(points68, dtype=np.float64)
    if p.shape != (68, 2):
        raise OptionError(f"expected 68x2 landmarks, got shape {p.shape}")
    eye_a = p[36:42].mean(axis=0)  # the subject's right eye: image-left on a frontal face
    eye_b = p[42:48].mean(axis=0)
    return np.stack([eye_a, eye_b, p[30], p[48], p[54]])


def _as_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(to_uint(check_rgb(rgb), 8))


def _landmarks(image8: np.ndarray, box: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    dlib = _dlib()
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    shape = _predictor68()(image8, dlib.rectangle(x0, y0, x1, y1))
    points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=np.float64)
    return five_from_68(points), points


def landmarks_for_box(rgb: np.ndarray, box: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """``(landmarks5, landmarks68)`` of the face inside ``box`` (x0, y0, x1, y1) of ``rgb``."""
    return _landmarks(_as_uint8(rgb), box)


def detect_faces(
    rgb: np.ndarray,
    *,
    detector: str = "hog",
    threshold: float = 0.0,
    min_size: float = 0,
    upsample: int | None = None,
) -> list[Face]:
    """Faces in ``rgb`` with at least ``threshold`` confidence and a box side of at least ``min_size`` px.

    ``detector``: ``"hog"`` (fast, frontal faces) or ``"cnn"`` (dlib's MMOD CNN: turned and small faces,
    several times slower on a CPU). ``threshold`` is on dlib's score: 0 is dlib's default operating point
    for both; raise it for fewer false faces. ``upsample``: image doublings before detection (default: 1
    up to 2.5 megapixels, else 0). Faces come largest first. Use :func:`detect_all` to also get the faces
    that ``min_size`` dropped.
    """
    kept, _ = detect_all(rgb, detector=detector, threshold=threshold, min_size=min_size, upsample=upsample)
    return kept


def detect_all(
    rgb: np.ndarray,
    *,
    detector: str = "hog",
    threshold: float = 0.0,
    min_size: float = 0,
    upsample: int | None = None,
) -> tuple[list[Face], list[Face]]:
    """``(kept, too_small)``: as :func:`detect_faces`, plus the faces below ``min_size`` (for reports)."""
    if detector not in DETECTORS:
        raise OptionError(f"unknown face detector {detector!r}: expected one of {', '.join(DETECTORS)}")
    if not np.isfinite(threshold):
        raise OptionError(f"face detection threshold must be a finite number, got {threshold}")
    if not (np.isfinite(min_size) and min_size >= 0):
        raise OptionError(f"minimum face size must be >= 0 pixels, got {min_size}")
    if upsample is not None and not (isinstance(upsample, int) and 0 <= upsample <= 3):
        raise OptionError(f"upsample must be an integer in 0..3, got {upsample!r}")
    image8 = _as_uint8(rgb)
    height, width = image8.shape[:2]
    if upsample is None:
        upsample = 1 if height * width <= _UPSAMPLE_LIMIT_PIXELS else 0

    boxes: list[tuple[tuple[float, float, float, float], float]] = []
    if detector == "hog":
        rects, scores, _ = _hog_detector().run(image8, upsample, float(threshold))
        for rect, score in zip(rects, scores):
            boxes.append(((rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1), float(score)))
    else:
        for found in _cnn_detector()(image8, upsample):
            if found.confidence < threshold:
                continue
            rect = found.rect
            boxes.append(((rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1), float(found.confidence)))

    kept: list[Face] = []
    small: list[Face] = []
    for box, score in boxes:
        # dlib may return boxes reaching past the image; clip them (landmarks still use the raw box).
        clipped = (float(max(0, box[0])), float(max(0, box[1])), float(min(width, box[2])), float(min(height, box[3])))
        if clipped[2] - clipped[0] < 2 or clipped[3] - clipped[1] < 2:
            continue
        five, sixty_eight = _landmarks(image8, box)
        face = Face(box=clipped, score=score, landmarks5=five, landmarks68=sixty_eight, detector=detector)
        (kept if face.size >= min_size else small).append(face)
    kept.sort(key=lambda f: -f.size)
    small.sort(key=lambda f: -f.size)
    return kept, small
