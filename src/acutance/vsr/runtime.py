"""The temporal upscaler at run time (onnxruntime, OpenCV; no torch): the ``vsr`` model family.

A model file (``acutance-vsr-1``) is one ONNX graph of a single recurrent step (:mod:`acutance.vsr.net`):
the frozen compact net plus the refiner, taking the current LR frame, the previous output, the previous LR
frame and the next LR frame (each already warped to the current frame by DIS flow on the LR frames) and the
hidden state; it gives the frame and the next hidden state.

:class:`Stream` runs it over frames in order with a look-ahead of one frame: a frame's output comes out when
the next frame is pushed (or at :meth:`Stream.flush`), so memory is a handful of frames whatever the clip's
length. The state is reset at the first frame, at a scene cut (:func:`acutance.vsr.flow.is_cut`) and when the
frame size changes, with a notice for the last two; the next frame is not used across a cut.

Large frames run in tiles of the LR frame (``TILE`` pixels, ``MARGIN`` pixels of overlap, more than the
graph's receptive field), so the graph's working memory stays bounded; flow and warping are whole-frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from acutance.errors import ModelError

FORMAT = "acutance-vsr-1"
WARMUP = 8  # frames a video segment's state is run over before its first frame (acutance.vsr.video)
TILE = 192  # LR tile side for the graph
MARGIN = 24  # LR pixels of context per tile side (compact: 10, refiner: 5)
# The graph's inputs, in this order; ``fresh`` (1x1x1x1) = 1 at a reset: the graph's own base output then
# stands in for the previous output, as in training.
INPUTS = ("lr", "prev_hr", "prev_lr", "next_lr", "hidden", "fresh")
OUTPUTS = ("hr", "hidden_out")


@dataclass
class VsrModel:
    session: Any
    meta: Mapping[str, Any]

    @property
    def scale(self) -> int:
        return int(self.meta["scale"])

    @property
    def hidden(self) -> int:
        return int(self.meta["spec"]["hidden"])

    def step(self, lr, prev_hr, prev_lr, next_lr, hidden, fresh: bool):
        """One recurrent step on HxWxC float32 arrays; returns (frame, hidden)."""
        h, w = lr.shape[:2]
        flag = np.full((1, 1, 1), float(fresh), np.float32)
        if h * w <= TILE * TILE:
            return self._run(lr, prev_hr, prev_lr, next_lr, hidden, flag)
        s = self.scale
        out = np.empty((h * s, w * s, 3), np.float32)
        state = np.empty((h, w, self.hidden), np.float32)
        for y in range(0, h, TILE):
            for x in range(0, w, TILE):
                y0, x0 = max(0, y - MARGIN), max(0, x - MARGIN)
                y1, x1 = min(h, y + TILE + MARGIN), min(w, x + TILE + MARGIN)
                crop = (slice(y0, y1), slice(x0, x1))
                big = (slice(y0 * s, y1 * s), slice(x0 * s, x1 * s))
                o, st = self._run(lr[crop], prev_hr[big], prev_lr[crop], next_lr[crop], hidden[crop], flag)
                ty, tx = min(TILE, h - y), min(TILE, w - x)
                out[y * s : (y + ty) * s, x * s : (x + tx) * s] = o[(y - y0) * s : (y - y0 + ty) * s, (x - x0) * s : (x - x0 + tx) * s]
                state[y : y + ty, x : x + tx] = st[y - y0 : y - y0 + ty, x - x0 : x - x0 + tx]
        return out, state

    def _run(self, *arrays):
        feeds = {name: np.ascontiguousarray(a.transpose(2, 0, 1)[None], dtype=np.float32) for name, a in zip(INPUTS, arrays)}
        try:
            out, hidden = self.session.run(None, feeds)
        except Exception as error:  # noqa: BLE001 (onnxruntime's errors: a broken graph)
            raise ModelError(f"{self.meta.get('name')}: the ONNX step failed: {str(error).splitlines()[0]}") from None
        return out[0].transpose(1, 2, 0), hidden[0].transpose(1, 2, 0)


# --- streaming ---------------------------------------------------------------------------------------------


@dataclass
class _Frame:
    key: Any
    rgb: np.ndarray  # the LR frame
    grey: np.ndarray  # uint8, for flow and cut detection
    back: np.ndarray | None = None  # flow to the previous frame (None: none, or a cut before this frame)


@dataclass
class _State:
    frame: _Frame
    hr: np.ndarray
    hidden: np.ndarray


@dataclass
class Stream:
    """Frames in order -> upscaled frames, one frame behind. ``push(key, rgb)`` returns the ``(key, frame)``
    pairs that became ready (the previous frame's); ``flush()`` the last one. ``notice(key, text)`` is told
    of scene cuts and size changes (the state is reset there)."""

    model: VsrModel
    notice: Callable[[Any, str], None] | None = None
    _pending: _Frame | None = None
    _state: _State | None = None
    cuts: list = field(default_factory=list)  # keys of frames that started a new shot

    def push(self, key, rgb: np.ndarray) -> list[tuple[Any, np.ndarray]]:
        from acutance.vsr import flow as fl

        frame = _Frame(key, rgb, fl.gray8(rgb))
        ready = []
        pending = self._pending
        if pending is not None:
            if pending.rgb.shape != rgb.shape:
                self._tell(key, f"frame size changed from {_size(pending.rgb)} to {_size(rgb)}; temporal state reset")
            else:
                back = fl.flow(frame.grey, pending.grey)
                if fl.is_cut(pending.grey, frame.grey, back):
                    self.cuts.append(key)
                    self._tell(key, "scene cut; temporal state reset")
                else:
                    frame.back = back
            ready.append(self._process(pending, frame if frame.back is not None else None))
        self._pending = frame
        return ready

    def flush(self) -> list[tuple[Any, np.ndarray]]:
        if self._pending is None:
            return []
        ready = [self._process(self._pending, None)]
        self._pending = None
        return ready

    def reset(self) -> None:
        self._pending = self._state = None

    def _tell(self, key, text: str) -> None:
        if self.notice is not None:
            self.notice(key, text)

    def _process(self, frame: _Frame, following: _Frame | None) -> tuple[Any, np.ndarray]:
        from acutance.vsr import flow as fl

        model, s, lr = self.model, self.model.scale, frame.rgb
        state = self._state  # the previous frame's (frames are processed in order)
        fresh = state is None or frame.back is None
        if fresh:  # a reset: no previous frame; the graph's base stands in for the previous output
            h, w = lr.shape[:2]
            prev_hr, prev_lr = np.zeros((h * s, w * s, 3), np.float32), lr
            hidden = np.zeros((h, w, model.hidden), np.float32)
        else:
            back = frame.back
            prev_hr = fl.warp(state.hr, fl.upscale_flow(back, s))
            prev_lr = fl.warp(state.frame.rgb, back)
            hidden = fl.warp(state.hidden, back)
        next_lr = fl.warp(following.rgb, fl.flow(frame.grey, following.grey)) if following is not None else lr
        out, hidden = model.step(lr, prev_hr, prev_lr, next_lr, hidden, fresh)
        self._state = _State(frame, out, hidden)
        return frame.key, out



# --- the family face (acutance.models.families) ---------------------------------------------------------


def read(path: str | Path) -> VsrModel:
    from acutance.deep.runtime import make_session, read_onnx_meta

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    meta = read_onnx_meta(path)
    if meta.get("format") != FORMAT or meta.get("scale") not in (2, 4) or not isinstance(meta.get("spec"), dict):
        raise ModelError(f"{path}: not a temporal upscaler ({FORMAT}) file")
    session = make_session(path)
    names = tuple(i.name for i in session.get_inputs())
    if names != INPUTS:
        raise ModelError(f"{path}: the graph's inputs are {names}, expected {INPUTS}")
    return VsrModel(session, meta)


def describe(meta: Mapping[str, Any]) -> dict:
    s = int(meta["scale"])
    # context: the step's receptive field in LR pixels; a sequence model is not tiled by the image pipeline
    return {"task": "upscale", "scales": (s,), "input": "rgb", "tile": 0, "context": MARGIN, "default_scale": float(s),
            "requires": ("onnxruntime", "opencv-python")}  # fmt: skip


@dataclass
class Enhancer:
    """The runnable temporal upscaler. On one image it is the clip of one frame (the state reset, no next
    frame); video goes through :meth:`stream` (``acutance video``, ``acutance upscale-frames``)."""

    info: Any
    model: VsrModel
    sequence: bool = True  # the video pipeline streams frames through it instead of calling it per frame

    @property
    def meta(self) -> Mapping[str, Any]:
        return self.model.meta

    def __call__(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        from acutance.contract import check_rgb

        check_rgb(rgb)
        if abs(scale - self.model.scale) > 1e-9:
            raise ModelError(f"{self.info.name} upscales x{self.model.scale} only, not x{scale:g}")
        stream = self.stream()
        stream.push(0, rgb)
        return stream.flush()[0][1]

    def stream(self, notice: Callable[[Any, str], None] | None = None) -> Stream:
        return Stream(self.model, notice)


def _size(rgb: np.ndarray) -> str:
    return f"{rgb.shape[1]}x{rgb.shape[0]}"
