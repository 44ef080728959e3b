"""Identity similarity: dlib's face-recognition ResNet embeddings (128-d) compared by cosine.

Contract: images are ``float32 HxWx3 RGB in [0, 1]``. A face is located by dlib's HOG detector (the
largest one wins) unless the caller passes it; dlib's own 5-point landmark model then aligns a 150x150
chip exactly as the recognition network was trained (``dlib.get_face_chip``), and the network maps the chip
to a 128-d descriptor. On LFW two photos of one person score cosine ~0.95 and two people ~0.8: the scale is
compressed (dlib's descriptors are built for a Euclidean threshold of 0.6), so compare numbers from this
function with each other, not with ArcFace cosines.

The three dlib models (detector, 5-point shape predictor, recognition network, ~31 MB) load lazily, once
per process. They come from the ``face_recognition_models`` package (extra ``faces``), which is located on
disk without importing it (its ``__init__`` needs ``pkg_resources``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from acutance.contract import check_rgb, to_uint
from acutance.errors import ModelError, OptionError

CHIP_SIZE = 150  # the recognition network's input size
CHIP_PADDING = 0.25  # dlib's default padding around the aligned face
EMBEDDING_DIM = 128

# dlib objects are not documented as thread-safe; serialise calls into them.
_LOCK = threading.Lock()


@dataclass(frozen=True)
class DlibFace:
    """A face as the dlib models see it: its box (left, top, right, bottom) in pixels and 5 dlib landmarks.

    ``landmarks`` is a 5x2 float array in dlib's 5-point order (outer/inner corner of one eye, then of the
    other, then the bottom of the nose); ``score`` is the HOG detector's confidence (``nan`` when the box
    was given by the caller).
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    score: float


@lru_cache(maxsize=1)
def _models_dir() -> Path:
    spec = find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "face models not installed: install the 'faces' extra (pip install dlib-bin face_recognition_models)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "models"


@lru_cache(maxsize=1)
def _dlib_models() -> tuple[Any, Any, Any]:
    """(HOG detector, 5-point shape predictor, recognition network), loaded once."""
    try:
        import dlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelError(f"dlib is not installed: install the 'faces' extra (pip install dlib-bin): {exc}") from exc
    folder = _models_dir()
    files = {
        "shape": folder / "shape_predictor_5_face_landmarks.dat",
        "recognition": folder / "dlib_face_recognition_resnet_model_v1.dat",
    }
    for path in files.values():
        if not path.is_file():
            raise ModelError(f"face model file missing: {path} (reinstall face_recognition_models)")
    try:
        detector = dlib.get_frontal_face_detector()
        shape = dlib.shape_predictor(str(files["shape"]))
        recognition = dlib.face_recognition_model_v1(str(files["recognition"]))
    except RuntimeError as exc:
        raise ModelError(f"could not load the dlib face models from {folder}: {exc}") from exc
    return detector, shape, recognition


def _rgb8(rgb: np.ndarray, name: str) -> np.ndarray:
    check_rgb(rgb, name)
    return np.ascontiguousarray(to_uint(rgb, 8))


def _box_of(face: Any, width: int, height: int) -> tuple[int, int, int, int]:
    """A face given by the caller -> integer box (left, top, right, bottom), clipped to the image.

    Accepts a :class:`DlibFace`, any object with a ``box`` attribute (e.g. ``acutance.faces.detect``'s faces),
    a ``dlib.rectangle``, or a sequence of 4 numbers (left, top, right, bottom).
    """
    if hasattr(face, "box"):
        face = face.box
    if all(hasattr(face, name) for name in ("left", "top", "right", "bottom")) and callable(face.left):
        values = [face.left(), face.top(), face.right(), face.bottom()]
    else:
        try:
            values = [float(v) for v in np.asarray(face, dtype=np.float64).reshape(-1)]
        except (TypeError, ValueError) as exc:
            raise OptionError(f"face must be a box (left, top, right, bottom) or a detected face, got {face!r}") from exc
        if len(values) != 4:
            raise OptionError(f"face box must have 4 numbers (left, top, right, bottom), got {len(values)}")
    left, top, right, bottom = (int(round(v)) for v in values)
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, width - 1), min(bottom, height - 1)
    if right - left < 8 or bottom - top < 8:
        raise OptionError(f"face box {values} is empty or smaller than 8 px inside the {width}x{height} image")
    return left, top, right, bottom


def _detect_boxes(rgb8: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
    detector, _, _ = _dlib_models()
    height, width = rgb8.shape[:2]
    with _LOCK:
        rects, scores, _ = detector.run(rgb8, 0)
        # HOG finds faces from ~80 px up; on small images look once more at twice the size.
        if not rects and max(height, width) <= 1200:
            rects, scores, _ = detector.run(rgb8, 1)
    out = []
    for rect, score in zip(rects, scores):
        left, top = max(rect.left(), 0), max(rect.top(), 0)
        right, bottom = min(rect.right(), width - 1), min(rect.bottom(), height - 1)
        if right > left and bottom > top:
            out.append(((left, top, right, bottom), float(score)))
    return out


def detect_boxes(rgb: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
    """All HOG detections ``((left, top, right, bottom), confidence)`` in ``rgb``, as :func:`find_face` sees them."""
    return _detect_boxes(_rgb8(rgb, "image"))


def find_face(rgb: np.ndarray, face: Any = None, *, name: str = "image") -> DlibFace:
    """The face to measure: ``face`` if given (a box or a detected face), else the largest detected one.

    Raises ``ModelError`` when no face is found.
    """
    rgb8 = _rgb8(rgb, name)
    return _find_face8(rgb8, face, name)


def _find_face8(rgb8: np.ndarray, face: Any, name: str) -> DlibFace:
    import dlib

    height, width = rgb8.shape[:2]
    if face is None:
        found = _detect_boxes(rgb8)
        if not found:
            raise ModelError(
                f"no face found in the {name} ({width}x{height}): identity and face quality need a visible, "
                "roughly frontal face of at least ~40 px"
            )
        box, score = max(found, key=lambda item: (item[0][2] - item[0][0]) * (item[0][3] - item[0][1]))
    else:
        box, score = _box_of(face, width, height), float("nan")
    _, predictor, _ = _dlib_models()
    with _LOCK:
        shape = predictor(rgb8, dlib.rectangle(*box))
    points = np.array([[shape.part(i).x, shape.part(i).y] for i in range(shape.num_parts)], dtype=np.float64)
    return DlibFace(box=box, landmarks=points, score=score)


def _shape_of(face: DlibFace):
    import dlib

    points = dlib.points()
    for x, y in face.landmarks:
        points.append(dlib.point(int(round(x)), int(round(y))))
    return dlib.full_object_detection(dlib.rectangle(*face.box), points)


def face_chip(rgb: np.ndarray, face: Any = None, size: int = CHIP_SIZE, padding: float = CHIP_PADDING) -> np.ndarray:
    """The face aligned as dlib's recognition network expects it: float32 ``size x size x 3`` in [0, 1]."""
    rgb8 = _rgb8(rgb, "image")
    found = face if isinstance(face, DlibFace) else _find_face8(rgb8, face, "image")
    return _chip8(rgb8, found, size, padding)


def _chip8(rgb8: np.ndarray, found: DlibFace, size: int = CHIP_SIZE, padding: float = CHIP_PADDING) -> np.ndarray:
    import dlib

    if not 16 <= size <= 4096:
        raise OptionError(f"chip size must be 16..4096 px, got {size}")
    with _LOCK:
        chip = dlib.get_face_chip(rgb8, _shape_of(found), size=size, padding=padding)
    return np.asarray(chip, dtype=np.float32) / np.float32(255.0)


def embedding_from_chip(chip: np.ndarray) -> np.ndarray:
    """128-d descriptor (float32, not normalised) of an aligned 150x150 chip from :func:`face_chip`."""
    check_rgb(chip, "face chip")
    if chip.shape[:2] != (CHIP_SIZE, CHIP_SIZE):
        raise OptionError(f"face chip must be {CHIP_SIZE}x{CHIP_SIZE}, got {chip.shape[1]}x{chip.shape[0]}")
    _, _, recognition = _dlib_models()
    with _LOCK:
        vector = recognition.compute_face_descriptor(np.ascontiguousarray(to_uint(chip, 8)))
    return np.asarray(vector, dtype=np.float32)


def face_embedding(rgb: np.ndarray, face: Any = None) -> np.ndarray:
    """128-d dlib descriptor (float32, not normalised) of ``face`` or of the largest face in ``rgb``.

    ``face``: ``None`` (detect), a box (left, top, right, bottom), a :class:`DlibFace`, or an object with a
    ``box`` attribute. Raises ``ModelError`` when no face is found.
    """
    return embedding_from_chip(face_chip(rgb, face))


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the angle between two embeddings (1 = same direction)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise OptionError(f"embeddings differ in length: {a.size} and {b.size}")
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norm == 0.0:
        raise OptionError("cosine similarity of a zero embedding is undefined")
    return float(np.dot(a, b) / norm)


def identity_similarity(rgb_a: np.ndarray, rgb_b: np.ndarray) -> float:
    """Cosine similarity of the dlib embeddings of the largest face in each image (1 = identical).

    Raises ``ModelError`` naming the image in which no face was found.
    """
    emb_a = embedding_from_chip(face_chip_named(rgb_a, "first image"))
    emb_b = embedding_from_chip(face_chip_named(rgb_b, "second image"))
    return cosine_similarity(emb_a, emb_b)


def face_chip_named(rgb: np.ndarray, name: str) -> np.ndarray:
    """:func:`face_chip` of the largest face, with ``name`` in the error messages."""
    rgb8 = _rgb8(rgb, name)
    return _chip8(rgb8, _find_face8(rgb8, None, name))
