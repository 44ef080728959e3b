"""A causal shot-cut detector: it sees each frame once, in order, and says whether a new scene starts there.

The project had no cut detector. This one compares small luma thumbnails of consecutive frames (mean absolute
difference, on 0..1) and calls a cut when the difference is both large in itself and large against the clip's
recent frame-to-frame changes (so fast pans and flashes of motion are not cuts). A scene is at least
``MIN_SCENE_FRAMES`` long: a level never changes faster than that.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

MIN_SCENE_FRAMES = 8  # also the shortest clip ``--pre-encode auto`` accepts
_THUMB_WIDTH = 64
_ABSOLUTE = 0.08  # mean |difference| of the thumbnails, on 0..1, below which nothing is a cut
_RELATIVE = 3.0  # ... and it must be this many times the recent median change
_RECENT = 24
_MEAN = np.full((1, 3), 1 / 3, np.float32)  # for cv2.transform: the channel mean, faster than mean(axis=2)


class CutDetector:
    def __init__(self) -> None:
        self.previous: np.ndarray | None = None
        self.recent: deque[float] = deque(maxlen=_RECENT)
        self.since_cut = 0

    def __call__(self, rgb: np.ndarray) -> bool:
        """True when ``rgb`` starts a new scene (the first frame always does)."""
        height, width = rgb.shape[:2]
        size = (_THUMB_WIDTH, max(1, round(height * _THUMB_WIDTH / width)))
        # About every step-th pixel first, so the cost does not grow with the frame: 1080p costs what 480p does.
        # cv2's nearest resize gathers them (the same pixels as rgb[::step, ::step] where the step divides the
        # size) several times faster than numpy copies the strided view.
        step = max(1, width // (2 * _THUMB_WIDTH))
        small = np.ascontiguousarray(rgb)
        if step > 1:
            small = cv2.resize(small, (-(-width // step), -(-height // step)), interpolation=cv2.INTER_NEAREST)
        thumb = cv2.transform(cv2.resize(small, size, interpolation=cv2.INTER_AREA), _MEAN)  # the channels' mean
        previous, self.previous = self.previous, thumb
        if previous is None:
            self.since_cut = 1
            return True
        change = float(np.mean(np.abs(thumb - previous)))
        typical = float(np.median(self.recent)) if self.recent else 0.0
        cut = self.since_cut >= MIN_SCENE_FRAMES and change > _ABSOLUTE and change > _RELATIVE * typical
        if cut:
            self.recent.clear()
            self.since_cut = 1
        else:
            self.recent.append(change)
            self.since_cut += 1
        return cut
