"""Temporal stabilisation: less frame-to-frame flicker in what an enhancer adds (or in its whole output).

An enhancer's output is split into a base (OpenCV bicubic of the input, the part every frame shares with its
input) and a residual (what the model added). The residual is blended with the previous frame's blended
residual, warped to the current frame by optical flow (OpenCV DIS on the input, ultrafast preset) and weighted
down where the warped previous input disagrees with the current one (occlusions, cuts, flow errors):

    r_t = e_t + alpha * w * (warp(r_{t-1}) - e_t),   w = exp(-(blur|x_t - warp(x_{t-1})| / 0.1)^2)

``alpha`` = 0 gives the enhancer's output unchanged. The state (previous input and residual) is plain arrays so
a resumed run can restore it exactly. Flow and weight are computed at the input's size; the warp and blend at
the output's size are one compiled pass (:mod:`acutance.video.temporal_kernel`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from acutance.contract import check_rgb

_EDGE_SIGMA = 0.1  # blurred input difference (in [0, 1] units) at which the previous residual has weight 1/e
_BLUR_SIGMA = 1.5


@dataclass
class TemporalState:
    previous_input: np.ndarray  # float32 HxWx3, the previous frame's input
    previous_residual: np.ndarray  # float32 (sH)x(sW)x3, its blended residual


def _gray8(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)


def _base(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if rgb.shape[:2] == size:
        return rgb
    return cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)


MODES = ("residual", "output")


class TemporalStabiliser:
    """Blend each frame's residual (or whole output) with the motion-compensated previous one (module notes).

    mode "residual" (default) steadies only what the model adds, so the input's own content and noise pass
    through untouched; "output" blends the whole enhanced frame, a motion-compensated recursive filter that also
    calms the input's noise (and any model that removes noise), at more risk of smearing on bad flow.
    """

    def __init__(self, alpha: float, mode: str = "residual") -> None:
        from acutance.errors import OptionError

        if not 0.0 <= alpha <= 1.0:
            raise OptionError(f"temporal strength must be in 0..1, got {alpha}")
        if mode not in MODES:
            raise OptionError(f"temporal mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.alpha = float(alpha)
        self.mode = mode
        self.state: TemporalState | None = None
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._grids: dict[tuple[int, int], np.ndarray] = {}

    def reset(self, state: TemporalState | None = None) -> None:
        self.state = state

    def _grid(self, h: int, w: int) -> np.ndarray:
        """HxWx2 pixel coordinates (x, y): one remap map (CV_32FC2) once the flow is added."""
        if (h, w) not in self._grids:
            xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._grids[(h, w)] = np.dstack([xs, ys])
        return self._grids[(h, w)]

    def __call__(self, rgb: np.ndarray, enhanced: np.ndarray) -> np.ndarray:
        check_rgb(rgb, "input")
        check_rgb(enhanced, "enhanced")
        size = enhanced.shape[:2]
        if self.mode == "residual":
            base = np.ascontiguousarray(_base(rgb, size), dtype=np.float32)
        else:
            base = np.zeros_like(enhanced)
        state = self.state
        if self.alpha > 0 and state is not None and state.previous_residual.shape == enhanced.shape:
            from acutance.video.temporal_kernel import blend

            h, w = rgb.shape[:2]
            # flow on the input: current pixel x came from previous pixel x + flow(x)
            flow = self._flow.calc(_gray8(rgb), _gray8(state.previous_input), None)
            warped_input = cv2.remap(
                state.previous_input, self._grid(h, w) + flow, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            change = cv2.absdiff(warped_input, rgb)
            change = np.maximum(np.maximum(change[..., 0], change[..., 1]), change[..., 2])
            # blurred first, so that sensor noise does not read as motion; only structure changes count
            difference = cv2.GaussianBlur(change, (0, 0), _BLUR_SIGMA)
            weight = np.exp(-np.square(difference / np.float32(_EDGE_SIGMA))) * np.float32(self.alpha)
            residual = np.empty_like(enhanced)
            out = np.empty_like(enhanced)
            blend(
                np.ascontiguousarray(enhanced), base, state.previous_residual, np.ascontiguousarray(flow),
                np.ascontiguousarray(weight, dtype=np.float32), residual, out,
            )
        else:
            residual = cv2.subtract(enhanced, base)
            out = np.clip(enhanced, 0.0, 1.0)
        self.state = TemporalState(rgb.copy(), residual)
        return out


def mean_abs_frame_difference(frames: list[np.ndarray]) -> float:
    """Flicker measure: mean |frame_t - frame_{t-1}| over all pixels and consecutive pairs (0-1 units)."""
    if len(frames) < 2:
        return 0.0
    return float(np.mean([np.mean(np.abs(b - a)) for a, b in zip(frames, frames[1:])]))
