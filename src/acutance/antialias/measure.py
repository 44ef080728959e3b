"""Edge sharpness of anti-aliasing: the 10-90% width of the edge spread function on slanted edges.

A slanted edge (a half-plane at a known angle and position) is rendered like the vector scenes
(``render.supersampled_pair``); every pixel's luma is filed by its signed distance from the edge line, the
spread function is the mean per 1/10 pixel bin, normalised between the two plateaus, and the width is the
distance from its 10% to its 90% crossing (ISO 12233-style, without the MTF). The box-filtered reference
gives about 0.8 pixel; a blurrier result gives more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from acutance.antialias.render import SUPERSAMPLE, supersampled_pair

BIN = 0.1
REACH = 4.0  # pixels on each side of the edge used for the spread function


@dataclass(frozen=True)
class SlantedEdge:
    aliased: np.ndarray
    reference: np.ndarray
    distance: np.ndarray  # signed distance of each pixel centre from the edge line, in pixels (HxW)


def slanted_edge(angle: float, size: int = 64, dark: float = 0.15, light: float = 0.85, seed: int = 0,
                 scale: int = SUPERSAMPLE) -> SlantedEdge:
    """A half-plane edge through the image centre (shifted by a random fraction of a pixel) at ``angle``
    degrees from the horizontal."""
    rng = np.random.default_rng(seed)
    theta = np.deg2rad(angle)
    normal = np.array([-np.sin(theta), np.cos(theta)])  # (x, y) components
    centre = np.array([size / 2 + rng.uniform(-0.5, 0.5), size / 2 + rng.uniform(-0.5, 0.5)])
    big = size * scale
    canvas = np.full((big, big, 3), int(round(dark * 255)), np.uint8)
    # the half-plane normal . (p - centre) > 0, as a big polygon in sub-pixels
    along = np.array([np.cos(theta), np.sin(theta)])
    c = centre * scale
    far = 4 * big
    polygon = np.array([c - along * far, c + along * far, c + along * far + normal * far, c - along * far + normal * far])
    cv2.fillPoly(canvas, [np.round(polygon * 16).astype(np.int32)], (int(round(light * 255)),) * 3, cv2.LINE_8, shift=4)
    aliased, reference = supersampled_pair(canvas, scale)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    distance = (xx - centre[0]) * normal[0] + (yy - centre[1]) * normal[1]
    return SlantedEdge(aliased, reference, distance)


def edge_width(image: np.ndarray, distance: np.ndarray, border: int = 4) -> float:
    """10-90% width (pixels) of the edge spread function of ``image`` across the edge at ``distance``."""
    luma = image @ np.array([0.299, 0.587, 0.114], np.float32) if image.ndim == 3 else image
    inner = (slice(border, -border), slice(border, -border))  # away from the image border
    d, v = distance[inner].ravel(), luma[inner].ravel().astype(np.float64)
    keep = np.abs(d) <= REACH
    d, v = d[keep], v[keep]
    low, high = v[d < -2.5].mean(), v[d > 2.5].mean()
    v = (v - low) / (high - low)
    edges = np.arange(-REACH, REACH + BIN / 2, BIN)
    index = np.digitize(d, edges) - 1
    counts = np.bincount(index, minlength=len(edges))[: len(edges) - 1]
    sums = np.bincount(index, weights=v, minlength=len(edges))[: len(edges) - 1]
    centres = (edges[:-1] + edges[1:]) / 2
    ok = counts > 0
    esf = np.maximum.accumulate(sums[ok] / counts[ok])  # monotone: overshoot does not fold the crossings back
    centres = centres[ok]
    return float(np.interp(0.9, esf, centres) - np.interp(0.1, esf, centres))


EDGE_ANGLES = (3.0, 8.0, 14.0, 22.0, 31.0, 38.0, 45.0, 52.0, 63.0, 76.0, 86.0)


def edge_charts(angles=EDGE_ANGLES, size: int = 64, seed: int = 0) -> list[SlantedEdge]:
    return [slanted_edge(a, size, seed=seed + i) for i, a in enumerate(angles)]


def mean_edge_width(method: Callable[[np.ndarray], np.ndarray] | None, charts: list[SlantedEdge]) -> float:
    """Mean width over the charts of ``method(aliased)``; ``None``: of the anti-aliased reference."""
    widths = [edge_width(c.reference if method is None else method(c.aliased), c.distance) for c in charts]
    return float(np.mean(widths))


def match_blur_sigma(charts: list[SlantedEdge], low: float = 0.2, high: float = 2.0, steps: int = 24) -> float:
    """The Gaussian sigma whose blur of the aliased charts has the reference's mean edge width (bisection)."""
    from acutance.antialias.classical import gaussian

    target = mean_edge_width(None, charts)
    for _ in range(steps):
        middle = 0.5 * (low + high)
        if mean_edge_width(lambda rgb: gaussian(rgb, middle), charts) < target:
            low = middle
        else:
            high = middle
    return round(0.5 * (low + high), 4)
