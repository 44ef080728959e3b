"""Aliased / anti-aliased pairs: what ``aa-x1`` is trained on and measured against.

Three sources, each giving ``(aliased, reference)`` float32 HxWx3 RGB pairs of the same size:

- **vector scenes** (:func:`render_scene`): lines, shapes, curves and text drawn with OpenCV at ``SUPERSAMPLE``
  times the size. The reference is the box-filtered (area) reduction, the exact pixel coverage a renderer's
  anti-aliasing aims at; the aliased image is the same drawing point-sampled at each pixel's centre. The
  factor is odd, so the centre sample is the middle sub-pixel and the two are aligned exactly. ``"train"``
  and ``"test"`` content use different fonts and shapes (the benchmark's held-out scenes are other fonts and
  shapes than training's);
- **frames** (:func:`downscale_pair`): an image shrunk by an odd factor with a pre-filter (area) and without
  one (the centre pixel of each block: nearest-neighbour scaling);
- **line art** (:func:`line_art_pair`): a training photo turned into flat colours and dark outlines, its
  anti-aliased rendering (area reduction), and that rendering with its anti-aliasing removed by
  :func:`undo_antialiasing`, a DaltonLens-style step: each pixel that blends two local colours is snapped
  to the nearer one.
"""

from __future__ import annotations

import cv2
import numpy as np

SUPERSAMPLE = 9  # odd: the centre sub-pixel of each pixel is its point sample

FONTS = {
    "train": (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX),
    "test": (cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
             cv2.FONT_HERSHEY_COMPLEX_SMALL),
}
SHAPES = {
    "train": ("line", "polyline", "circle", "polygon", "bezier", "ellipse", "text"),
    "test": ("star", "spiral", "arc", "rotated_rect", "rounded_rect", "rings", "text"),
}
_WORDS = ("anti", "alias", "edge", "Jaggies", "acutance", "FXAA", "pixel", "Stair", "curve", "Vector", "0123456789",
          "RAISR", "wxyz", "LINE", "hello", "Kanji?")


def _colour(rng) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def _contrasting(rng, background: np.ndarray) -> tuple[int, int, int]:
    """A colour at least a little different from the background's mean (an edge there must be visible)."""
    for _ in range(20):
        colour = _colour(rng)
        if np.abs(np.asarray(colour, float) - background).sum() > 90:
            return colour
    return tuple(int(255 - v) for v in background)


def _background(rng, height: int, width: int) -> np.ndarray:
    """Flat, or a linear gradient between two colours (uint8 HxWx3)."""
    a = np.asarray(_colour(rng), np.float32)
    if rng.random() < 0.5:
        return np.broadcast_to(a.astype(np.uint8), (height, width, 3)).copy()
    b = np.asarray(_colour(rng), np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (np.cos(angle) * xx / width + np.sin(angle) * yy / height)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return (a + (b - a) * t[..., None]).astype(np.uint8)


def _points(rng, n: int, height: int, width: int) -> np.ndarray:
    return np.stack([rng.uniform(0, width, n), rng.uniform(0, height, n)], axis=1)


def _draw(canvas: np.ndarray, shape: str, rng, scale: int, fonts: tuple[int, ...]) -> None:
    """One primitive on the supersampled canvas (coordinates in sub-pixels, aliased LINE_8 drawing)."""
    height, width = canvas.shape[:2]
    colour = _contrasting(rng, canvas[height // 2, width // 2].astype(float))
    thick = max(1, int(round(rng.uniform(0.6, 4.0) * scale)))
    line = cv2.LINE_8
    if shape == "line":
        p = _points(rng, 2, height, width).astype(np.int32)
        cv2.line(canvas, tuple(p[0]), tuple(p[1]), colour, thick, line)
    elif shape == "polyline":
        p = _points(rng, int(rng.integers(3, 7)), height, width).astype(np.int32)
        cv2.polylines(canvas, [p], bool(rng.random() < 0.5), colour, thick, line)
    elif shape == "circle":
        c = _points(rng, 1, height, width)[0].astype(int)
        radius = int(rng.uniform(0.03, 0.3) * min(height, width))
        cv2.circle(canvas, tuple(c), radius, colour, -1 if rng.random() < 0.5 else thick, line)
    elif shape == "polygon":
        c = _points(rng, 1, height, width)[0]
        n = int(rng.integers(3, 7))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(0.05, 0.3, n) * min(height, width)
        p = (c + np.stack([np.cos(angles), np.sin(angles)], 1) * radii[:, None]).astype(np.int32)
        cv2.fillPoly(canvas, [p], colour, line)
    elif shape == "bezier":
        p = _points(rng, 4, height, width)
        t = np.linspace(0, 1, 200)[:, None]
        curve = ((1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t**2 * p[2] + t**3 * p[3])
        cv2.polylines(canvas, [curve.astype(np.int32)], False, colour, thick, line)
    elif shape == "ellipse":
        c = _points(rng, 1, height, width)[0].astype(int)
        axes = (int(rng.uniform(0.03, 0.3) * width), int(rng.uniform(0.03, 0.3) * height))
        cv2.ellipse(canvas, tuple(c), axes, float(rng.uniform(0, 180)), 0, 360, colour,
                    -1 if rng.random() < 0.5 else thick, line)
    elif shape == "text":
        font = fonts[int(rng.integers(len(fonts)))] | (cv2.FONT_ITALIC if rng.random() < 0.2 else 0)
        text = _WORDS[int(rng.integers(len(_WORDS)))]
        size = rng.uniform(0.35, 1.6) * scale
        weight = max(1, int(round(rng.uniform(0.6, 2.2) * scale)))
        origin = _points(rng, 1, height * 0.9, width * 0.7)[0].astype(int) + np.array([0, int(0.1 * height)])
        cv2.putText(canvas, text, tuple(int(v) for v in origin), font, size, colour, weight, line)
    elif shape == "star":
        c = _points(rng, 1, height, width)[0]
        n = int(rng.integers(5, 9))
        outer = rng.uniform(0.08, 0.3) * min(height, width)
        angles = np.arange(2 * n) * np.pi / n + rng.uniform(0, np.pi)
        radii = np.where(np.arange(2 * n) % 2 == 0, outer, outer * rng.uniform(0.35, 0.6))
        p = (c + np.stack([np.cos(angles), np.sin(angles)], 1) * radii[:, None]).astype(np.int32)
        cv2.fillPoly(canvas, [p], colour, line)
    elif shape == "spiral":
        c = _points(rng, 1, height, width)[0]
        t = np.linspace(0, rng.uniform(3, 8) * np.pi, 400)
        r = t / t[-1] * rng.uniform(0.1, 0.35) * min(height, width)
        p = c + np.stack([np.cos(t), np.sin(t)], 1) * r[:, None]
        cv2.polylines(canvas, [p.astype(np.int32)], False, colour, thick, line)
    elif shape == "arc":
        c = _points(rng, 1, height, width)[0].astype(int)
        axes = (int(rng.uniform(0.05, 0.35) * width), int(rng.uniform(0.05, 0.35) * height))
        start = float(rng.uniform(0, 360))
        cv2.ellipse(canvas, tuple(c), axes, float(rng.uniform(0, 180)), start, start + float(rng.uniform(60, 270)),
                    colour, thick, line)
    elif shape == "rotated_rect":
        c = tuple(float(v) for v in _points(rng, 1, height, width)[0])
        size = tuple(float(v) for v in rng.uniform(0.05, 0.4, 2) * min(height, width))
        box = cv2.boxPoints((c, size, float(rng.uniform(0, 90)))).astype(np.int32)
        cv2.fillPoly(canvas, [box], colour, line)
    elif shape == "rounded_rect":
        x0, y0 = _points(rng, 1, height * 0.6, width * 0.6)[0].astype(int)
        w, h = (rng.uniform(0.15, 0.4, 2) * np.array([width, height])).astype(int)
        radius = int(min(w, h) * rng.uniform(0.1, 0.45))
        for a, b, c_ in (((x0 + radius, y0), (x0 + w - radius, y0), None), ((x0 + radius, y0 + h), (x0 + w - radius, y0 + h), None),
                         ((x0, y0 + radius), (x0, y0 + h - radius), None), ((x0 + w, y0 + radius), (x0 + w, y0 + h - radius), None)):
            cv2.line(canvas, a, b, colour, thick, line)
        for centre, start in (((x0 + radius, y0 + radius), 180), ((x0 + w - radius, y0 + radius), 270),
                              ((x0 + w - radius, y0 + h - radius), 0), ((x0 + radius, y0 + h - radius), 90)):
            cv2.ellipse(canvas, centre, (radius, radius), 0, start, start + 90, colour, thick, line)
    elif shape == "rings":
        c = tuple(int(v) for v in _points(rng, 1, height, width)[0])
        step = rng.uniform(1.5, 4.0) * scale
        for i in range(1, int(rng.integers(3, 7))):
            cv2.circle(canvas, c, int(i * step * 1.6), colour, max(1, int(step * 0.6)), line)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def supersampled_pair(canvas: np.ndarray, scale: int = SUPERSAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """(point-sampled, area-reduced) float32 RGB of a uint8 canvas ``scale`` times the output size."""
    height, width = canvas.shape[0] // scale, canvas.shape[1] // scale
    canvas = np.ascontiguousarray(canvas[: height * scale, : width * scale])
    reference = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA)
    aliased = canvas[scale // 2 :: scale, scale // 2 :: scale]
    return _float(aliased), _float(reference)


def render_scene(seed: int, height: int = 160, width: int = 160, content: str = "train",
                 scale: int = SUPERSAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """(aliased, anti-aliased) float32 RGB of one random vector scene of the ``content`` set."""
    rng = np.random.default_rng(seed)
    canvas = _background(rng, height * scale, width * scale)
    shapes = SHAPES[content]
    for _ in range(int(rng.integers(8, 20))):
        _draw(canvas, shapes[int(rng.integers(len(shapes)))], rng, scale, FONTS[content])
    return supersampled_pair(canvas, scale)


def downscale_pair(rgb: np.ndarray, factor: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(nearest-neighbour, area) reductions of float32 RGB by an odd ``factor``, aligned (centre pixel)."""
    if factor < 1 or factor % 2 == 0:
        raise ValueError(f"the factor must be odd, got {factor}")
    height, width = rgb.shape[0] // factor, rgb.shape[1] // factor
    rgb = np.ascontiguousarray(rgb[: height * factor, : width * factor], dtype=np.float32)
    reference = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb[factor // 2 :: factor, factor // 2 :: factor]), reference


def undo_antialiasing(rgb: np.ndarray, min_contrast: float = 0.08) -> np.ndarray:
    """Remove anti-aliasing in the spirit of DaltonLens: a pixel whose colour lies between the darkest and the
    lightest colour of its 3x3 neighbourhood is snapped to the nearer of the two (by its position on the
    segment between them). Flat pixels (a local luma range under ``min_contrast``) are kept."""
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    padded = np.pad(luma, 1, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3)).reshape(*luma.shape, 9)
    rows, cols = np.mgrid[0 : luma.shape[0], 0 : luma.shape[1]]
    offsets = np.array([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    lo, hi = windows.argmin(axis=2), windows.argmax(axis=2)

    def colour(index):
        yy = np.clip(rows + offsets[index, 0], 0, luma.shape[0] - 1)
        xx = np.clip(cols + offsets[index, 1], 0, luma.shape[1] - 1)
        return rgb[yy, xx]

    dark, light = colour(lo), colour(hi)
    span = light - dark
    t = ((rgb - dark) * span).sum(axis=2) / np.maximum((span * span).sum(axis=2), 1e-12)
    snapped = np.where((t >= 0.5)[..., None], light, dark)
    contrast = np.take_along_axis(windows, hi[..., None], 2)[..., 0] - np.take_along_axis(windows, lo[..., None], 2)[..., 0]
    return np.where((contrast >= min_contrast)[..., None], snapped, rgb).astype(np.float32)


def line_art(rgb: np.ndarray, seed: int, colours: int = 6) -> np.ndarray:
    """Flat-colour line art (uint8) from a photo: k-means colours, a median filter, dark Canny outlines."""
    rng = np.random.default_rng(seed)
    image = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    image = cv2.bilateralFilter(image, 7, 60, 7)
    samples = image.reshape(-1, 3)[rng.integers(0, image.shape[0] * image.shape[1], 4000)].astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    cv2.setRNGSeed(seed % (2**31))
    _, _, centres = cv2.kmeans(samples, colours, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    distance = ((image.reshape(-1, 1, 3).astype(np.float32) - centres[None]) ** 2).sum(axis=2)
    flat = centres[distance.argmin(axis=1)].reshape(image.shape).astype(np.uint8)
    flat = cv2.medianBlur(flat, 5)
    edges = cv2.Canny(cv2.cvtColor(flat, cv2.COLOR_RGB2GRAY), 30, 90)
    edges = cv2.dilate(edges, np.ones((2, 2), np.uint8)) if rng.random() < 0.5 else edges
    ink = np.array(_colour(rng), np.uint8) // 4  # dark outlines
    flat[edges > 0] = ink
    return flat


def line_art_pair(rgb: np.ndarray, seed: int, factor: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(undo-AA input, AA line art): the line art at the photo's size is reduced by ``factor`` (area, the
    anti-aliased target); its anti-aliasing is then removed by :func:`undo_antialiasing`."""
    art = line_art(rgb, seed)
    height, width = art.shape[0] // factor, art.shape[1] // factor
    reference = _float(cv2.resize(art[: height * factor, : width * factor], (width, height),
                                  interpolation=cv2.INTER_AREA))
    return undo_antialiasing(reference), reference


def _float(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image, dtype=np.float32) / np.float32(255.0)
