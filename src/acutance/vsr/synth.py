"""Training sequences synthesised from still images: a smooth random camera path over the image (translation,
zoom, a little rotation) plus, half the time, a moving layer cut from another image (occlusions, motion that
is not the camera's). Everything comes from the generator passed in, so a seed gives the same clips.

HR frames are resampled with Lanczos-4 from the still (pre-blurred when the path zooms out, so frames are not
aliased), then each LR frame is the SR protocol's: MATLAB bicubic, 8-bit levels.
"""

from __future__ import annotations

import cv2
import numpy as np


def _path(rng: np.random.Generator, frames: int, max_speed: float) -> np.ndarray:
    """frames x 4 (dx, dy, log-zoom, angle in degrees): constant velocity plus a small smooth acceleration."""
    velocity = np.array([rng.uniform(-max_speed, max_speed), rng.uniform(-max_speed, max_speed),
                         rng.uniform(-0.02, 0.02), rng.uniform(-0.5, 0.5)])  # fmt: skip
    if rng.random() < 0.15:  # some clips barely move (a static camera is common in video)
        velocity *= 0.05
    accel = velocity * rng.uniform(-0.15, 0.15, size=4)
    t = np.arange(frames)[:, None]
    return velocity * t + 0.5 * accel * t**2


def _affine(centre: tuple[float, float], out: int, step: np.ndarray, zoom: float) -> np.ndarray:
    """The 2x3 matrix from source pixels to an ``out`` x ``out`` frame around ``centre`` moved by ``step``."""
    cx, cy = centre[0] + step[0], centre[1] + step[1]
    scale = zoom * float(np.exp(step[2]))
    m = cv2.getRotationMatrix2D((cx, cy), float(step[3]), scale)
    m[:, 2] += np.array([out / 2 - cx, out / 2 - cy])
    return m


def sequence(rng: np.random.Generator, image: np.ndarray, other: np.ndarray | None, frames: int, size: int,
             max_speed: float = 8.0) -> np.ndarray:  # fmt: skip
    """``frames`` x size x size x 3 float32 HR frames moving over ``image`` (``other``: the layer's source)."""
    h, w = image.shape[:2]
    zoom = rng.uniform(0.7, 1.3)
    if min(h, w) * zoom < size * 1.2:
        zoom = size * 1.2 / min(h, w)
    src = image
    if zoom < 1:  # shrinking: blur first so the frames are not aliased
        src = cv2.GaussianBlur(image, (0, 0), 0.5 * np.sqrt(1 / zoom**2 - 1) + 1e-3)
    margin = size / zoom / 2 + max_speed * frames / zoom
    cx = rng.uniform(min(margin, w / 2), max(w - margin, w / 2))
    cy = rng.uniform(min(margin, h / 2), max(h - margin, h / 2))
    path = _path(rng, frames, max_speed) / np.array([zoom, zoom, 1, 1])
    out = np.empty((frames, size, size, 3), np.float32)
    for t in range(frames):
        m = _affine((cx, cy), size, path[t], zoom)
        out[t] = cv2.warpAffine(src, m, (size, size), flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT)
    if other is not None:
        _add_layer(rng, out, other, max_speed)
    return np.clip(out, 0, 1)


def _add_layer(rng: np.random.Generator, frames: np.ndarray, other: np.ndarray, max_speed: float) -> None:
    """A soft-edged rectangle or ellipse of ``other`` crossing the frames on its own path (in place)."""
    count, size = frames.shape[:2]
    side = int(rng.integers(size // 4, size // 2 + 1))
    oh, ow = other.shape[:2]
    y0, x0 = int(rng.integers(0, max(1, oh - side))), int(rng.integers(0, max(1, ow - side)))
    patch = np.ascontiguousarray(other[y0 : y0 + side, x0 : x0 + side])
    if patch.shape[0] < side or patch.shape[1] < side:
        return
    mask = np.zeros((side, side), np.float32)
    if rng.random() < 0.5:
        cv2.ellipse(mask, (side // 2, side // 2), (side // 2 - 2, side // 3), float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    else:
        mask[2:-2, 2:-2] = 1
    mask = cv2.GaussianBlur(mask, (0, 0), 1.0)[..., None]
    start = rng.uniform(0, size - side, size=2)
    velocity = rng.uniform(-max_speed, max_speed, size=2)
    for t in range(count):
        x, y = start + velocity * t
        m = np.float32([[1, 0, x], [0, 1, y]])  # sub-pixel placement, resampled
        layer = cv2.warpAffine(patch, m, (size, size), flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_CONSTANT)
        alpha = cv2.warpAffine(mask, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)[..., None]
        frames[t] = frames[t] * (1 - alpha) + layer * alpha


def lr_frames(hr: np.ndarray, scale: int) -> np.ndarray:
    """The SR protocol's LR of every frame (MATLAB bicubic, 8-bit levels)."""
    from acutance.metrics.sr_protocol import make_lr

    return np.stack([make_lr(frame, scale) for frame in hr])
