"""Seeded LaMa-style masks (Suvorov et al. 2022): thin, medium and thick strokes, boxes and object-like blobs.

``generate_mask(height, width, seed, area=(lo, hi))`` draws shapes until the masked fraction reaches a target
drawn from the bin, and takes back any shape that overshoots it, so every mask lands in its bin. Sizes are
fractions of the image's shorter side, so a mask looks the same at every resolution. Training draws bins
from ``TRAIN_BINS``; the benchmark uses ``BENCH_BINS``.
"""

from __future__ import annotations

import numpy as np

from acutance.errors import OptionError

KINDS = ("thin", "medium", "thick", "box", "blob")
BENCH_BINS = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5))
TRAIN_BINS = BENCH_BINS

# stroke widths as fractions of the shorter side
_STROKE = {"thin": (0.008, 0.02), "medium": (0.03, 0.055), "thick": (0.07, 0.12)}


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _stroke(canvas: np.ndarray, rng: np.random.Generator, kind: str) -> None:
    import cv2

    height, width = canvas.shape
    side = min(height, width)
    thickness = max(1, int(round(rng.uniform(*_STROKE[kind]) * side)))
    point = np.array([rng.uniform(0, width), rng.uniform(0, height)])
    angle = rng.uniform(0, 2 * np.pi)
    for _ in range(int(rng.integers(3, 10))):
        angle += rng.normal(0, 1.0)
        length = rng.uniform(0.08, 0.3) * side
        end = np.clip(point + length * np.array([np.cos(angle), np.sin(angle)]), 0, [width - 1, height - 1])
        cv2.line(canvas, tuple(int(v) for v in point), tuple(int(v) for v in end), 1, thickness, cv2.LINE_8)
        cv2.circle(canvas, tuple(int(v) for v in end), thickness // 2, 1, -1)  # round joints
        point = end


def _box(canvas: np.ndarray, rng: np.random.Generator) -> None:
    height, width = canvas.shape
    h = max(2, int(rng.uniform(0.08, 0.4) * height))
    w = max(2, int(rng.uniform(0.08, 0.4) * width))
    y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    canvas[y : y + h, x : x + w] = 1


def _blob(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """A star-shaped polygon with noisy radii, rounded: something like an object's silhouette."""
    import cv2

    height, width = canvas.shape
    side = min(height, width)
    radius = rng.uniform(0.06, 0.22) * side
    centre = np.array([rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height])
    count = int(rng.integers(7, 15))
    angles = np.sort(rng.uniform(0, 2 * np.pi, count))
    radii = radius * np.clip(rng.normal(1.0, 0.3, count), 0.4, 1.8)
    aspect = rng.uniform(0.6, 1.6)
    points = centre + np.stack([radii * np.cos(angles) * aspect, radii * np.sin(angles) / aspect], axis=1)
    # drawn and rounded in its own box, not over the whole canvas (a 4K canvas would make this slow)
    k = max(3, int(radius * 0.3) | 1)
    x0, y0 = np.floor(points.min(axis=0)).astype(int) - k
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + k + 1
    box = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.fillPoly(box, [np.round(points - [x0, y0]).astype(np.int32)], 1.0)
    box = cv2.GaussianBlur(box, (k, k), 0) >= 0.5
    cy0, cx0 = max(y0, 0), max(x0, 0)
    cy1, cx1 = min(y1, height), min(x1, width)
    if cy1 > cy0 and cx1 > cx0:
        canvas[cy0:cy1, cx0:cx1][box[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]] = 1


def _draw(canvas: np.ndarray, rng: np.random.Generator, kind: str) -> None:
    if kind in _STROKE:
        _stroke(canvas, rng, kind)
    elif kind == "box":
        _box(canvas, rng)
    else:
        _blob(canvas, rng)


def generate_mask(height: int, width: int, seed=0, area: tuple[float, float] = (0.1, 0.2),
                  kinds: tuple[str, ...] = KINDS) -> np.ndarray:
    """A boolean HxW mask (True = fill) whose masked fraction lies in ``area`` = [lo, hi).

    ``seed``: an int or a ``numpy.random.Generator`` (advanced in place). ``kinds``: the shapes to draw from.
    """
    lo, hi = area
    if not 0 <= lo < hi <= 0.9:
        raise OptionError(f"the mask area bin must satisfy 0 <= lo < hi <= 0.9, got {area}")
    if height < 8 or width < 8:
        raise OptionError(f"masks need at least 8x8 pixels, got {width}x{height}")
    unknown = set(kinds) - set(KINDS)
    if unknown or not kinds:
        raise OptionError(f"unknown mask kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    rng = _rng(seed)
    pixels = height * width
    low = max(lo, 1.0 / pixels) * pixels  # at least one pixel
    while True:  # restarts are rare: a fresh canvas when shapes keep overshooting
        target = rng.uniform(low, hi * pixels)
        canvas = np.zeros((height, width), np.uint8)
        filled = 0
        for _ in range(200):
            trial = canvas.copy()
            _draw(trial, rng, kinds[int(rng.integers(len(kinds)))])
            count = int(trial.sum())
            if count >= hi * pixels:
                continue  # overshoot: take this shape back
            canvas, filled = trial, count
            if filled >= target:
                return canvas.astype(bool)
        if filled >= low:
            return canvas.astype(bool)


def area_bin_name(area: tuple[float, float]) -> str:
    return f"{round(area[0] * 100)}-{round(area[1] * 100)}%"
