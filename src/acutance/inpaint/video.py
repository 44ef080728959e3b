"""The ``inpaint`` stage of ``acutance video``: fill a static mask (a logo, a burnt-in timestamp) on every frame.

Filled frame by frame, the hole would boil: a fill is a function of the pixels around it, and those carry the
codec's noise, which changes every frame. So the fill is smoothed in time, inside the mask only: each frame's
fill is blended into the previous frame's by a weight that follows how much the mask's surroundings (a ring
``RING_PX`` wide, seen through a ``BLUR_PX`` box blur so that pixel noise averages out and only coherent change
counts) changed since the previous frame: ``(change / MOVING)**2``, at least ``STILL``. Still surroundings
(only noise): ``STILL``, so the fill holds steady; surroundings that change by ``MOVING`` or more on average (a
pan, a cut): 1, so the fill follows at once and leaves no ghost. Pixels outside the mask are never touched.

The blend depends on earlier frames, so the stage ``needs_history``: a resumed run replays the finished
segments' frames through ``observe`` and makes the frames an uninterrupted run would have made.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np

from acutance.errors import OptionError

RING_PX = 4  # width of the known ring around the mask whose change steers the blend
BLUR_PX = 7  # box blur of the ring before comparing frames: sensor and codec noise average out
STILL = 0.15  # weight of a new fill when the surroundings are still (their change is only noise)
MOVING = 0.02  # mean absolute change of the blurred ring (in [0, 1] units) at which the new fill is taken whole


def stage_params(mask: Path, method: str = "auto", dilate: int = 0, resize: bool = False) -> dict:
    """The stage's JSON-able parameters for ``StageSpec.of("inpaint", ...)``: the mask's path and its bytes'
    SHA-256, so that a resumed run with an edited mask starts over instead of mixing two masks."""
    path = Path(mask)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        raise OptionError(f"--inpaint-mask {path}: no such file") from None
    except IsADirectoryError:
        raise OptionError(f"--inpaint-mask {path}: a folder; a video takes one mask image") from None
    except OSError as error:
        raise OptionError(f"--inpaint-mask {path}: {error.strerror or error}") from None
    return {"mask": str(path.resolve()), "sha256": digest, "method": method, "dilate": int(dilate),
            "resize": bool(resize)}  # fmt: skip


def build_stage(params: dict, context) -> _InpaintStage | _Unchanged:
    """Read and check the mask against the frames' size before any frame is decoded."""
    from acutance.inpaint import METHODS, choose_method, prepare_mask
    from acutance.inpaint.mask_file import dilate, fit_mask, is_binary, mask_values
    from acutance.io import read_image

    method = params.get("method", "auto")
    if method not in METHODS:
        raise OptionError(f"--inpaint-method must be one of {', '.join(METHODS)}, got {method!r}")
    path = Path(params["mask"])
    name = f"--inpaint-mask {path.name}"
    values = mask_values(read_image(path))
    if not is_binary(values):
        warnings.warn(f"{name} is not black and white: its grey pixels are thresholded at 50%", InpaintNotice,
                      stacklevel=2)  # fmt: skip
    shape = (context.height, context.width)
    values = fit_mask(values, shape, resize=bool(params.get("resize")), name=name,
                      image_name=f"the video's frames are {context.width}x{context.height}",
                      hint=" (WxH); give --inpaint-resize-mask to rescale it")  # fmt: skip
    fill = dilate(prepare_mask(values, shape, name=name), int(params.get("dilate", 0)), name)
    if not fill.any():
        warnings.warn(f"{name} marks no pixel: the frames are left as they are", InpaintNotice, stacklevel=2)
        return _Unchanged()
    if method == "auto":  # one choice for the whole clip: the mask does not change
        method = choose_method(fill)
    return _InpaintStage(fill, method)


class InpaintNotice(UserWarning):
    """A mask the user should hear about (thresholded, empty): one warning line."""


class _Unchanged:
    needs_history = False

    def __call__(self, index: int, source, frame):
        return frame


class _InpaintStage:
    needs_history = True

    def __init__(self, fill: np.ndarray, method: str) -> None:
        import cv2

        self.fill, self.method = fill, method
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * RING_PX + 1, 2 * RING_PX + 1))
        ring = (cv2.dilate(fill.astype(np.uint8), kernel) > 0) & ~fill
        rows, cols = np.nonzero(ring)
        pad = BLUR_PX // 2
        self.window = (slice(max(rows.min() - pad, 0), rows.max() + pad + 1),
                       slice(max(cols.min() - pad, 0), cols.max() + pad + 1))  # fmt: skip
        self.ring = ring[self.window]  # the ring within the window the blur looks at
        self.previous: np.ndarray | None = None  # the previous frame's blended fill (N x 3)
        self.previous_ring: np.ndarray | None = None

    def _filled(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        from acutance.inpaint import inpaint

        new = inpaint(frame, self.fill, self.method)[self.fill]
        ring = cv2.blur(frame[self.window], (BLUR_PX, BLUR_PX))[self.ring]
        if self.previous is not None:
            change = float(np.abs(ring - self.previous_ring).mean())
            weight = np.float32(min(1.0, max(STILL, (change / MOVING) ** 2)))
            new = self.previous + weight * (new - self.previous)
        self.previous, self.previous_ring = new, ring
        return new

    def observe(self, index: int, source) -> None:
        self._filled(source)

    def __call__(self, index: int, source, frame):
        out = frame.copy()
        out[self.fill] = self._filled(frame)
        return out

