"""Optical flow, warping and scene cuts for the temporal upscaler: OpenCV and numpy only (no torch).

Flow is OpenCV's DIS (medium preset) on the LR frames' 8-bit grey. ``flow(a, b)`` maps frame ``a``'s pixels to
``b``: ``a(x) ~ b(x + flow(x))``, so ``warp(b, flow(a, b))`` is ``b`` aligned to ``a``. Warping is bilinear with
replicated borders, which is what the trainer's ``grid_sample(align_corners=True, padding_mode="border")`` does.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
_local = threading.local()  # a DIS object keeps per-call buffers; one per thread


def gray8(rgb: np.ndarray) -> np.ndarray:
    """float32 HxWx3 RGB in [0, 1] -> uint8 HxW grey (what the flow and the cut detector look at)."""
    return np.clip(cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2GRAY) * 255 + 0.5, 0, 255).astype(np.uint8)


def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """HxWx2 float32 flow from grey frame ``a`` to grey frame ``b`` (uint8, same size), in pixels."""
    # One DIS object per frame size: an object that ran at another size gives (slightly) other flows, which
    # would make a frame's output depend on what came before a size change, not only on the frames.
    key = a.shape
    if getattr(_local, "dis_size", None) != key:
        _local.dis, _local.dis_size = cv2.DISOpticalFlow_create(DIS_PRESET), key
    return _local.dis.calc(a, b, None)


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    key = (height, width)
    cache = getattr(_local, "grids", None)
    if cache is None:
        cache = _local.grids = {}
    if key not in cache:
        cache.clear()  # one size at a time: constant memory
        cache[key] = tuple(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)))
    return cache[key]


def warp(image: np.ndarray, flow_field: np.ndarray) -> np.ndarray:
    """``image`` (HxWxC float32, any C) sampled at ``x + flow(x)``: bilinear, borders replicated."""
    height, width = flow_field.shape[:2]
    gx, gy = _grid(height, width)
    out = cv2.remap(np.ascontiguousarray(image, dtype=np.float32), gx + flow_field[..., 0], gy + flow_field[..., 1],
                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    return out.reshape(height, width, -1) if image.ndim == 3 else out


def upscale_flow(flow_field: np.ndarray, scale: int) -> np.ndarray:
    """An LR flow as the HR flow: bilinear (half-pixel centres, as torch's ``interpolate(align_corners=False)``),
    vectors times ``scale``."""
    height, width = flow_field.shape[:2]
    return cv2.resize(flow_field, (width * scale, height * scale), interpolation=cv2.INTER_LINEAR) * np.float32(scale)


def temporal_scores(gts: list[np.ndarray], outs: list[np.ndarray]) -> dict:
    """Temporal consistency of ``outs`` (float32 HxWx3 RGB frames) against the true frames ``gts``, over
    consecutive pairs, on 8-bit Y (MATLAB BT.601); lower is steadier for both:

    - ``tOF`` (TecoGAN's): mean |flow(out t -> t-1) - flow(GT t -> t-1)|, pixels;
    - ``tWE``: mean |(out_t - W out_{t-1}) - (GT_t - W GT_{t-1})|, W the warp by the GT's flow, grey levels:
      how far the output's change from frame to frame is from the true change (flicker, swimming detail).
    """
    from acutance.color.ycbcr import rgb_to_y

    def y8(rgb):
        return np.clip(rgb_to_y(np.clip(rgb, 0, 1)) * 255 + 0.5, 0, 255).astype(np.uint8)

    tof, twe = [], []
    for t in range(1, len(gts)):
        g0, g1, o0, o1 = y8(gts[t - 1]), y8(gts[t]), y8(outs[t - 1]), y8(outs[t])
        gt_back = flow(g1, g0)  # t -> t-1, to warp t-1 onto t
        tof.append(float(np.linalg.norm(flow(o1, o0) - gt_back, axis=-1).mean()))
        change = (o1 - warp(o0.astype(np.float32), gt_back)) - (g1 - warp(g0.astype(np.float32), gt_back))
        twe.append(float(np.abs(change).mean()))
    return {"tOF": round(float(np.mean(tof)), 4), "tWE": round(float(np.mean(twe)), 4)}


# --- scene cuts ------------------------------------------------------------------------------------------
# A cut is a frame the previous one, warped by the flow, does not explain: mean absolute warp error (0-255
# grey levels) above CUT_WARP_ERROR with the grey histogram changed too (intersection below CUT_HISTOGRAM),
# or above CUT_STRONG whatever the histogram. Measured at 176x144 on the shared non-test clips: fast motion
# in bikes.mp4 stays under 9.3, carphone under 3.3, onepiece under 0.7; bikes.mp4's four cuts and joins of
# the three clips are 37-71 (histograms 0.28-0.78). Test sets (Vid4) were not looked at.
CUT_WARP_ERROR = 20.0
CUT_STRONG = 30.0
CUT_HISTOGRAM = 0.9


def histogram_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of the normalised 32-bin grey histograms of two uint8 frames: 1 identical, 0 disjoint."""
    ha = cv2.calcHist([a], [0], None, [32], [0, 256]).ravel()
    hb = cv2.calcHist([b], [0], None, [32], [0, 256]).ravel()
    return float(np.minimum(ha / max(ha.sum(), 1), hb / max(hb.sum(), 1)).sum())


def warp_error(previous: np.ndarray, current: np.ndarray, flow_field: np.ndarray) -> float:
    """Mean absolute difference (grey levels) of ``current`` and ``previous`` warped to it by ``flow_field``."""
    return float(np.abs(warp(previous.astype(np.float32), flow_field) - current.astype(np.float32)).mean())


def is_cut(previous: np.ndarray, current: np.ndarray, flow_field: np.ndarray | None = None) -> bool:
    """Whether grey frame ``current`` starts a new shot after ``previous`` (``flow_field``: current -> previous,
    computed here when not given)."""
    if previous.shape != current.shape:
        return True
    error = warp_error(previous, current, flow(current, previous) if flow_field is None else flow_field)
    return error > CUT_STRONG or (error > CUT_WARP_ERROR and histogram_similarity(previous, current) < CUT_HISTOGRAM)
