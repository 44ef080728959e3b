"""A synthetic test chart, so the demo and tests need no image files.

Drawn, not photographed: edges at every angle, a zone plate (all frequencies), fine text, gradients and
soft colour fields, which are where upscalers differ visibly.
"""

from __future__ import annotations

import cv2
import numpy as np


def test_chart(size: int = 512) -> np.ndarray:
    """float32 ``size x size x 3`` RGB in [0, 1]; deterministic."""
    if size < 64:
        raise ValueError("the chart needs at least 64x64 pixels")
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    # Soft colour background.
    canvas = np.stack([0.55 + 0.35 * xx, 0.45 + 0.3 * yy, 0.7 - 0.3 * xx * yy], axis=-1)
    half = size // 2
    # Zone plate in the top-left quarter: frequency rises with the radius.
    r2 = (xx[:half, :half] - 0.25) ** 2 + (yy[:half, :half] - 0.25) ** 2
    zone = 0.5 + 0.5 * np.cos(np.pi * r2 * size * 0.5)
    canvas[:half, :half] = zone[..., None] * np.array([0.95, 0.95, 0.9], dtype=np.float32)
    # OpenCV draws text and antialiased shapes on 8-bit images only.
    canvas = np.rint(np.clip(canvas, 0.0, 1.0) * 255).astype(np.uint8)
    # Star of lines in the top-right quarter: edges at all angles.
    centre = (half + half // 2, half // 2)
    for k in range(24):
        angle = np.pi * k / 24
        dx, dy = np.cos(angle) * half * 0.45, np.sin(angle) * half * 0.45
        p0 = (int(centre[0] - dx), int(centre[1] - dy))
        p1 = (int(centre[0] + dx), int(centre[1] + dy))
        cv2.line(canvas, p0, p1, (25, 25, 64), max(1, size // 256), cv2.LINE_AA)
    # Text and shapes in the bottom half.
    font = cv2.FONT_HERSHEY_SIMPLEX
    for i, scale in enumerate((0.35, 0.5, 0.8)):
        y = half + int(size * (0.08 + 0.1 * i))
        cv2.putText(canvas, "acutance 0123456789", (size // 32, y), font, scale * size / 512, (12, 12, 12), 1,
                    cv2.LINE_AA)
    cv2.circle(canvas, (size * 3 // 4, size * 13 // 16), size // 10, (204, 38, 25), -1, cv2.LINE_AA)
    cv2.rectangle(canvas, (size // 2, size * 7 // 8), (size * 5 // 8, size - size // 32), (25, 128, 51), -1)
    # A smooth ramp strip: banding shows here.
    chart = canvas.astype(np.float32) / 255.0
    chart[size - size // 32 :, :] = xx[size - size // 32 :, :, None]
    return chart
